#include "reaper/reaper_program.h"

#include <cstdio>

#include "backend/backend.h"
#include "metrics/counters.h"
#include "metrics/exporter.h"
#include "program/startup.h"
#include "reaper/reaper.h"
#include "util/log.h"
#include "util/service_loop.h"

namespace pushgate {
namespace {

constexpr std::string_view kProgram = "pushgate-reaper";

ReapSummary RunOnce(const Config& config, Backend& backend, const ReapOptions& options) {
  ReapSummary summary = Reap(config, backend, options);
  if (options.dry_run) {
    for (const std::string& app : summary.removed_apps) std::printf("would remove %s\n", app.c_str());
  }
  using metrics::Counter;
  metrics::Add(config.data_dir, summary.breaker_tripped ? Counter::kReaperRunBreaker
                                : summary.errors > 0    ? Counter::kReaperRunError
                                                        : Counter::kReaperRunOk);
  if (!options.dry_run) {
    metrics::Add(config.data_dir, Counter::kReaperReposRemoved, static_cast<uint64_t>(summary.removed));
  }
  std::string json = summary.ToJson();
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  log::Info("reaper run", {{"summary", json}});
  return summary;
}

int RunEvery(Duration interval, const Config& config, Backend& backend, const ReapOptions& options,
             const std::string& metrics_listen) {
  // Held until the loop returns: the server stops when it goes.
  Result<std::unique_ptr<metrics::MetricsServer>> server = metrics::MetricsServer::Start(config, metrics_listen);
  if (!server.ok()) return FailWith(kProgram, server.status(), 2);
  // A run the backend could not answer (a controller outage) is retried
  // with backoff; one that tripped the breaker waits for the next interval.
  LoopOptions loop;
  loop.interval = interval;
  loop.jitter = 0.1;
  loop.first_backoff = std::chrono::seconds(5);
  log::Info("reaper started", {{"interval", FormatDuration(interval)}});
  RunServiceLoop(loop, [&] {
    ReapSummary summary = RunOnce(config, backend, options);
    return summary.errors == 0 && summary.skipped_unknown == 0;
  });
  log::Info("reaper stopped");
  return 0;
}

}  // namespace

int RunReaperProgram(const ReaperProgramOptions& options) {
  Result<Started> started = StartProgram({"pushgate-reaper", options.config_path, options.log_destination, true});
  if (!started.ok()) return FailWith(kProgram, started.status(), StartFailureExit(started.status()));
  const Config& config = started->config;
  Result<std::unique_ptr<Backend>> backend = OpenBackend(config);
  if (!backend.ok()) return FailWith(kProgram, backend.status(), 1);
  InstallStopHandlers();
  ReapOptions reap;
  reap.dry_run = options.dry_run;
  reap.force = options.force;
  reap.stop = &StopRequested();
  if (options.once) return RunOnce(config, **backend, reap).ExitCode();
  return RunEvery(options.interval.value_or(config.reaper.interval), config, **backend, reap, options.metrics_listen);
}

}  // namespace pushgate
