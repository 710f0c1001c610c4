#include "sync/sync_program.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "controller/client.h"
#include "metrics/counters.h"
#include "metrics/exporter.h"
#include "program/startup.h"
#include "sync/sync_service.h"
#include "util/log.h"
#include "util/service_loop.h"

namespace pushgate {
namespace {

constexpr std::string_view kProgram = "pushgate-sync";

std::string Describe(const SyncReport& r) {
  if (r.outcome == SyncReport::Outcome::kNoFeed) {
    return "the controller has no delta feed; keys are looked up one by one";
  }
  return std::string(r.resynced ? "resynced" : "synced") + " to revision " + std::to_string(r.revision) + " from " +
         std::to_string(r.from_revision) + ": " + std::to_string(r.pages) + " pages, " + std::to_string(r.puts) +
         " puts, " + std::to_string(r.deletes) + " deletes, " + std::to_string(r.rejected) + " rejected";
}

// Counts a sync's result and duration for the metrics.
void CountSync(const Config& config, bool ok, std::chrono::steady_clock::time_point start) {
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  metrics::Add(config.data_dir, ok ? metrics::Counter::kSyncOk : metrics::Counter::kSyncError);
  metrics::Observe(config.data_dir, metrics::Histogram::kSyncSeconds, elapsed.count());
}

Result<SyncReport> SyncNow(const Config& config, KeySource& source) {
  auto start = std::chrono::steady_clock::now();
  Result<SyncReport> report = SyncOnce(config, source, UnixNowMs, config.cache.refresh_after);
  CountSync(config, report.ok(), start);
  return report;
}

int SyncKey(const Config& config, KeySource& source, const SyncProgramOptions& options) {
  auto start = std::chrono::steady_clock::now();
  Status synced = SyncForKey(config, source, options.key_type, options.key_blob, UnixNowMs,
                             config.cache.sync_deadline);
  CountSync(config, synced.ok(), start);
  if (!synced.ok()) log::Warn("key sync failed", {{"error", synced.message()}});
  return synced.ok() ? 0 : 1;
}

int RunDaemon(const Config& config, KeySource& source, const std::string& metrics_listen) {
  // Held until the daemon returns: the server stops when it goes.
  Result<std::unique_ptr<metrics::MetricsServer>> server = metrics::MetricsServer::Start(config, metrics_listen);
  if (!server.ok()) return FailWith(kProgram, server.status(), 2);
  InstallStopHandlers();
  LoopOptions loop;
  loop.interval = config.cache.refresh_after / 3;
  loop.max_backoff = std::max(config.cache.refresh_after, Duration(1000));
  log::Info("sync daemon started", {{"interval", FormatDuration(loop.interval)}});
  RunServiceLoop(loop, [&] {
    auto start = std::chrono::steady_clock::now();
    Result<SyncReport> report = SyncNow(config, source);
    std::string ms = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    if (!report.ok()) {
      log::Warn("sync failed", {{"error", report.status().message()}, {"ms", ms}});
      return false;
    }
    log::Info("sync", {{"result", Describe(*report)}, {"ms", ms}});
    return true;
  });
  log::Info("sync daemon stopped");
  return 0;
}

}  // namespace

int RunSyncProgram(const SyncProgramOptions& options) {
  Result<Started> started = StartProgram({"pushgate-sync", options.config_path, options.log_destination, true});
  if (!started.ok()) return FailWith(kProgram, started.status(), StartFailureExit(started.status()));
  const Config& config = started->config;
  if (config.mode != Mode::kController) {
    PrintError("pushgate-sync: mode is not \"controller\" in " + options.config_path + "; nothing to sync");
    return 1;
  }
  Result<std::unique_ptr<ControllerClient>> client = ControllerClient::Create(config.controller);
  if (!client.ok()) return FailWith(kProgram, client.status(), 1);
  switch (options.run) {
    case SyncProgramOptions::Run::kDaemon: return RunDaemon(config, **client, options.metrics_listen);
    case SyncProgramOptions::Run::kKey: return SyncKey(config, **client, options);
    case SyncProgramOptions::Run::kOnce: break;
  }
  Result<SyncReport> report = SyncNow(config, **client);
  if (!report.ok()) return FailWith(kProgram, report.status(), 1);
  std::printf("%s\n", Describe(*report).c_str());
  return 0;
}

}  // namespace pushgate
