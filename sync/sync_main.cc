// pushgate-sync: controller mode's network side of the key cache.
//
//   pushgate-sync --config F --once            one sync; exit 0 if the controller answered
//   pushgate-sync --config F --daemon          keep the cache warm (sidecar); SIGTERM stops it
//       [--metrics-listen HOST:PORT]             ... and serve Prometheus metrics
//       [--log-destination stderr]              ... logging there instead of [log]
//   pushgate-sync --config F --key TYPE BLOB   what pushgate-keys runs on a miss or stale hit
//
// Runs as git_user (the owner of data_dir), never as root (sync_program.h).
#include <CLI/CLI.hpp>
#include <optional>

#include "config/config.h"
#include "program/command_line.h"
#include "program/startup.h"
#include "sync/sync_program.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate-sync: keep pushgate's key cache in step with the platform controller", "pushgate-sync");
  pushgate::SyncProgramOptions options;
  options.config_path = pushgate::kDefaultConfigPath;
  bool once = false, daemon = false;
  std::vector<std::string> key;
  app.add_option("--config", options.config_path, "configuration file")->capture_default_str();
  auto* once_flag = app.add_flag("--once", once, "sync once and exit");
  auto* daemon_flag = app.add_flag("--daemon", daemon, "keep syncing until SIGTERM");
  auto* key_option = app.add_option("--key", key, "sync for one key (TYPE BLOB), as pushgate-keys does")->expected(2);
  auto* metrics_option = app.add_option("--metrics-listen", options.metrics_listen,
                                        "with --daemon: serve Prometheus metrics on HOST:PORT (GET /metrics)");
  app.add_option("--log-destination", options.log_destination,
                 "log here instead of [log] destination (stderr, syslog, /path)");
  once_flag->excludes(daemon_flag)->excludes(key_option);
  daemon_flag->excludes(key_option);
  metrics_option->needs(daemon_flag);
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  if (!once && !daemon && key.empty()) {
    pushgate::PrintError("pushgate-sync: say what to do: --once, --daemon or --key TYPE BLOB");
    return pushgate::kUsageExit;
  }
  using Run = pushgate::SyncProgramOptions::Run;
  options.run = daemon ? Run::kDaemon : !key.empty() ? Run::kKey : Run::kOnce;
  if (!key.empty()) {
    options.key_type = key[0];
    options.key_blob = key[1];
  }
  return pushgate::RunSyncProgram(options);
}
