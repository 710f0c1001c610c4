// pushgate-build-image: build.command for build.driver = "workflow" with
// Dockerfile apps. Everything comes from the hook's environment and the
// configuration; see build_image.h.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "build-image/build_image.h"
#include "config/config.h"

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

int main() {
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(Env("PUSHGATE_CONFIG"));
  if (!config.ok()) {
    std::fprintf(stderr, "pushgate-build-image: %s\n", config.status().message().c_str());
    return 1;
  }
  pushgate::ImageBuild build{Env("PUSHGATE_APP"),        Env("PUSHGATE_SHA"),    Env("PUSHGATE_SOURCE"),
                             Env("PUSHGATE_BUILD_RESULT"), config->build.registry, config->TmpDir(), ""};
  pushgate::Status built = pushgate::BuildAndPushImage(build);
  if (!built.ok()) {
    std::fprintf(stderr, "pushgate-build-image: %s\n", built.message().c_str());
    return 1;
  }
  return 0;
}
