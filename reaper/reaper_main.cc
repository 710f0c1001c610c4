// pushgate-reaper: removes the repositories of deleted apps.
//
//   pushgate-reaper --config F --once [--dry-run] [--force]   one run (cron)
//   pushgate-reaper --config F --interval [1h]                a sidecar; SIGTERM stops it
//       [--metrics-listen HOST:PORT]                          ... and serve Prometheus metrics
//       [--log-destination stderr]                            ... logging there instead of [log]
//
// Each run ends with one JSON summary line on stdout (and in the log). Runs
// as git_user (the owner of data_dir), never as root (reaper_program.h).
#include <CLI/CLI.hpp>
#include <optional>

#include "config/config.h"
#include "program/command_line.h"
#include "program/startup.h"
#include "reaper/reaper_program.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate-reaper: remove the repositories of apps that no longer exist", "pushgate-reaper");
  pushgate::ReaperProgramOptions options;
  options.config_path = pushgate::kDefaultConfigPath;
  std::string interval_text;
  app.add_option("--config", options.config_path, "configuration file")->capture_default_str();
  auto* once_flag = app.add_flag("--once", options.once, "one run, then exit with its status");
  auto* interval_option =
      app.add_option("--interval", interval_text,
                     "run every DURATION (e.g. 1h; default reaper.interval; jittered) until SIGTERM")
          ->expected(0, 1);
  app.add_flag("--dry-run", options.dry_run, "list what would be removed, change nothing");
  app.add_flag("--force", options.force, "remove even when the circuit breaker trips");
  auto* metrics_option = app.add_option("--metrics-listen", options.metrics_listen,
                                        "with --interval: serve Prometheus metrics on HOST:PORT (GET /metrics)");
  app.add_option("--log-destination", options.log_destination,
                 "log here instead of [log] destination (stderr, syslog, /path)");
  once_flag->excludes(interval_option);
  metrics_option->needs(interval_option);
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  if (!options.once && interval_option->count() == 0) {
    pushgate::PrintError("pushgate-reaper: say how to run: --once or --interval [DURATION]");
    return pushgate::kUsageExit;
  }
  if (!interval_text.empty()) {
    pushgate::Result<pushgate::Duration> interval = pushgate::ParseDuration(interval_text);
    if (!interval.ok() || interval->count() == 0) {
      pushgate::PrintError("pushgate-reaper: --interval wants a duration such as 30m or 1h");
      return pushgate::kUsageExit;
    }
    options.interval = *interval;
  }
  return pushgate::RunReaperProgram(options);
}
