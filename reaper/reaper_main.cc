// pushgate-reaper: removes the repositories of deleted apps.
//
//   pushgate-reaper --config F --once [--dry-run] [--force]   one run (cron)
//   pushgate-reaper --config F --interval [1h]                a sidecar; SIGTERM stops it
//       [--metrics-listen HOST:PORT]                          ... and serve Prometheus metrics
//       [--log-destination stderr]                            ... logging there instead of [log]
//
// Each run ends with one JSON summary line on stdout (and in the log). Runs
// as git_user (the owner of data_dir), never as root.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "backend/backend.h"
#include "config/component.h"
#include "config/config.h"
#include "metrics/counters.h"
#include "metrics/exporter.h"
#include "program/command_line.h"
#include "reaper/reaper.h"
#include "util/log.h"
#include "util/service_loop.h"

namespace {

pushgate::ReapSummary RunOnce(const pushgate::Config& config, pushgate::Backend& backend,
                              const pushgate::ReapOptions& options) {
  pushgate::ReapSummary summary = pushgate::Reap(config, backend, options);
  if (options.dry_run) {
    for (const std::string& app : summary.removed_apps) std::printf("would remove %s\n", app.c_str());
  }
  using pushgate::metrics::Counter;
  pushgate::metrics::Add(config.data_dir, summary.breaker_tripped ? Counter::kReaperRunBreaker
                                          : summary.errors > 0 ? Counter::kReaperRunError
                                                               : Counter::kReaperRunOk);
  if (!options.dry_run) pushgate::metrics::Add(config.data_dir, Counter::kReaperReposRemoved,
                                                 static_cast<uint64_t>(summary.removed));
  std::string json = summary.ToJson();
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  pushgate::log::Info("reaper run", {{"summary", json}});
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate-reaper: remove the repositories of apps that no longer exist", "pushgate-reaper");
  std::string config_path(pushgate::kDefaultConfigPath);
  bool once = false, dry_run = false, force = false;
  std::string interval_text, metrics_listen, log_destination;
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  auto* once_flag = app.add_flag("--once", once, "one run, then exit with its status");
  auto* interval_option =
      app.add_option("--interval", interval_text,
                     "run every DURATION (e.g. 1h; default reaper.interval; jittered) until SIGTERM")
          ->expected(0, 1);
  app.add_flag("--dry-run", dry_run, "list what would be removed, change nothing");
  app.add_flag("--force", force, "remove even when the circuit breaker trips");
  auto* metrics_option = app.add_option("--metrics-listen", metrics_listen,
                                        "with --interval: serve Prometheus metrics on HOST:PORT (GET /metrics)");
  app.add_option("--log-destination", log_destination, "log here instead of [log] destination (stderr, syslog, /path)");
  once_flag->excludes(interval_option);
  metrics_option->needs(interval_option);
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  if (!once && interval_option->count() == 0) {
    std::fprintf(stderr, "pushgate-reaper: say how to run: --once or --interval [DURATION]\n");
    return 2;
  }
  pushgate::Result<pushgate::Config> config =
      pushgate::StartComponent("pushgate-reaper", config_path, log_destination);
  if (!config.ok()) {
    std::fprintf(stderr, "pushgate-reaper: %s\n", config.status().message().c_str());
    return config.status().code() == pushgate::Status::Code::kPermissionDenied ? 2 : 1;
  }
  pushgate::Duration interval = config->reaper.interval;
  if (!interval_text.empty()) {
    pushgate::Result<pushgate::Duration> parsed = pushgate::ParseDuration(interval_text);
    if (!parsed.ok() || parsed->count() == 0) {
      std::fprintf(stderr, "pushgate-reaper: --interval wants a duration such as 30m or 1h\n");
      return 2;
    }
    interval = *parsed;
  }
  pushgate::Result<std::unique_ptr<pushgate::Backend>> backend = pushgate::OpenBackend(*config);
  if (!backend.ok()) {
    std::fprintf(stderr, "pushgate-reaper: %s\n", backend.status().message().c_str());
    return 1;
  }
  pushgate::InstallStopHandlers();
  pushgate::ReapOptions options;
  options.dry_run = dry_run;
  options.force = force;
  options.stop = &pushgate::StopRequested();
  if (once) return RunOnce(*config, **backend, options).ExitCode();
  // Held until main returns: the server stops when it goes.
  auto metrics = pushgate::metrics::MetricsServer::Start(*config, metrics_listen);
  if (!metrics.ok()) {
    std::fprintf(stderr, "pushgate-reaper: %s\n", metrics.status().message().c_str());
    return 2;
  }

  // A run the backend could not answer (a controller outage) is retried
  // with backoff; one that tripped the breaker waits for the next interval.
  pushgate::LoopOptions loop;
  loop.interval = interval;
  loop.jitter = 0.1;
  loop.first_backoff = std::chrono::seconds(5);
  pushgate::log::Info("reaper started", {{"interval", pushgate::FormatDuration(interval)}});
  pushgate::RunServiceLoop(loop, [&] {
    pushgate::ReapSummary summary = RunOnce(*config, **backend, options);
    return summary.errors == 0 && summary.skipped_unknown == 0;
  });
  pushgate::log::Info("reaper stopped");
  return 0;
}
