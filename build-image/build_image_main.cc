// pushgate-build-image: build.command for build.driver = "workflow" with
// Dockerfile apps. Everything comes from the hook's environment and the
// configuration; see build_image.h.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "build-image/build_image.h"
#include "config/config.h"
#include "program/command_line.h"
#include "program/startup.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate-build-image: build.command for build.driver = \"workflow\": builds the pushed "
               "Dockerfile app with buildah and pushes it to build.registry. Takes no arguments: pushgate-hook "
               "runs it with PUSHGATE_CONFIG, PUSHGATE_APP, PUSHGATE_SHA, PUSHGATE_SOURCE and "
               "PUSHGATE_BUILD_RESULT set.",
               "pushgate-build-image");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(pushgate::EnvOrEmpty("PUSHGATE_CONFIG"));
  if (!config.ok()) return pushgate::FailWith("pushgate-build-image", config.status(), 1);
  pushgate::ImageBuild build{pushgate::EnvOrEmpty("PUSHGATE_APP"),        pushgate::EnvOrEmpty("PUSHGATE_SHA"),    pushgate::EnvOrEmpty("PUSHGATE_SOURCE"),
                             pushgate::EnvOrEmpty("PUSHGATE_BUILD_RESULT"), config->build.registry, config->dirs().Tmp(), ""};
  pushgate::Status built = pushgate::BuildAndPushImage(build);
  if (!built.ok()) return pushgate::FailWith("pushgate-build-image", built, 1);
  return 0;
}
