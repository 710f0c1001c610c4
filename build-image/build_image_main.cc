// pushgate-build-image: build.command for build.driver = "workflow" with
// Dockerfile apps. Everything comes from the hook's environment and the
// configuration; see build_image.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "build-image/build_image.h"
#include "config/config.h"
#include "program/command_line.h"

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate-build-image: build.command for build.driver = \"workflow\": builds the pushed "
               "Dockerfile app with buildah and pushes it to build.registry. Takes no arguments: pushgate-hook "
               "runs it with PUSHGATE_CONFIG, PUSHGATE_APP, PUSHGATE_SHA, PUSHGATE_SOURCE and "
               "PUSHGATE_BUILD_RESULT set.",
               "pushgate-build-image");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(Env("PUSHGATE_CONFIG"));
  if (!config.ok()) {
    std::fprintf(stderr, "pushgate-build-image: %s\n", config.status().message().c_str());
    return 1;
  }
  pushgate::ImageBuild build{Env("PUSHGATE_APP"),        Env("PUSHGATE_SHA"),    Env("PUSHGATE_SOURCE"),
                             Env("PUSHGATE_BUILD_RESULT"), config->build.registry, config->dirs().Tmp(), ""};
  pushgate::Status built = pushgate::BuildAndPushImage(build);
  if (!built.ok()) {
    std::fprintf(stderr, "pushgate-build-image: %s\n", built.message().c_str());
    return 1;
  }
  return 0;
}
