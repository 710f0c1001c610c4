#include "deploy/deploy_program.h"

#include <atomic>
#include <cstdio>
#include <ctime>

#include "config/config.h"
#include "deploy/release.h"
#include "program/startup.h"

namespace pushgate {
namespace {

std::atomic<bool> g_stop{false};

}  // namespace

int RunDeployProgram(const std::string& config_path, int keep) {
  Result<Config> config = LoadConfig(config_path);
  if (!config.ok()) return FailWith("pushgate-deploy", config.status(), 1);
  DeployRequest request;
  request.releases_dir = config->dirs().Releases();
  request.app = EnvOrEmpty("PUSHGATE_APP");
  request.commit = EnvOrEmpty("PUSHGATE_SHA");
  request.write_tree = FromSourceArchive(EnvOrEmpty("PUSHGATE_SOURCE"), EnvOrEmpty("PUSHGATE_SOURCE_SHA256"));
  request.keep = keep;
  request.pusher = EnvOrEmpty("PUSHGATE_USER");
  request.request_id = EnvOrEmpty("PUSHGATE_REQUEST_ID");
  request.created_at = static_cast<int64_t>(::time(nullptr));
  StopOnSignals(&g_stop);
  request.checkpoint = [] {
    return g_stop.load() ? Status::Unavailable("stopped by a signal; the release was not deployed") : Status::OK();
  };
  Result<DeployResult> result = DeployRelease(request);
  if (!result.ok()) return FailWith("pushgate-deploy", result.status(), 1);
  if (!result->warning.empty()) {
    PrintError("pushgate-deploy: warning: " + result->warning + " (the next deploy tries again)");
  }
  Status retiring = StartRemovingRetiredReleases(request);
  if (!retiring.ok()) PrintError("pushgate-deploy: warning: " + retiring.message() + " (the next deploy tries again)");
  std::printf("-----> %s deployed: v%d (%s)\n", request.app.c_str(), result->version,
              request.commit.substr(0, 7).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace pushgate
