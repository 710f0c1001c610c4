// pushgate-sync: controller mode's network side of the key cache.
//
//   pushgate-sync --config F --once            one sync; exit 0 if the controller answered
//   pushgate-sync --config F --daemon          keep the cache warm (sidecar); SIGTERM stops it
//       [--metrics-listen HOST:PORT]             ... and serve Prometheus metrics
//       [--log-destination stderr]              ... logging there instead of [log]
//   pushgate-sync --config F --key TYPE BLOB   what pushgate-keys runs on a miss or stale hit
//
// Runs as git_user (the owner of data_dir), never as root.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "sync/sync_service.h"
#include "config/component.h"
#include "config/config.h"
#include "controller/client.h"
#include "metrics/counters.h"
#include "metrics/exporter.h"
#include "program/command_line.h"
#include "util/log.h"
#include "util/service_loop.h"

namespace {

// The cache is written through a file mapping; on a full file system the
// kernel reports a page it cannot allocate as SIGBUS. The transaction never
// commits, so the cache is as it was: say so and exit, instead of a bare
// "Bus error".
void OnBusError(int) {
  static const char kMessage[] =
      "pushgate-sync: the key cache could not grow: the file system under data_dir is full. The cache is "
      "unchanged (LMDB commits all or nothing); free space and sync again.\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(1);
}

std::string Describe(const pushgate::SyncReport& r) {
  if (r.outcome == pushgate::SyncReport::Outcome::kNoFeed) {
    return "the controller has no delta feed; keys are looked up one by one";
  }
  return std::string(r.resynced ? "resynced" : "synced") + " to revision " + std::to_string(r.revision) + " from " +
         std::to_string(r.from_revision) + ": " + std::to_string(r.pages) + " pages, " + std::to_string(r.puts) +
         " puts, " + std::to_string(r.deletes) + " deletes, " + std::to_string(r.rejected) + " rejected";
}

// Runs one sync and counts it (result and duration) for the metrics.
template <typename SyncFn>
auto CountedSync(const pushgate::Config& config, SyncFn sync) {
  auto start = std::chrono::steady_clock::now();
  auto result = sync();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  pushgate::metrics::Add(config.data_dir,
                         result.ok() ? pushgate::metrics::Counter::kSyncOk : pushgate::metrics::Counter::kSyncError);
  pushgate::metrics::Observe(config.data_dir, pushgate::metrics::Histogram::kSyncSeconds, elapsed.count());
  return result;
}

pushgate::Result<pushgate::SyncReport> SyncNow(const pushgate::Config& config, pushgate::KeySource& source) {
  return CountedSync(config, [&] {
    return pushgate::SyncOnce(config, source, pushgate::SystemNowMs, config.cache.refresh_after);
  });
}

// The daemon: a sync every refresh_after/3, backing off while the
// controller fails.
int RunDaemon(const pushgate::Config& config, pushgate::KeySource& source) {
  pushgate::LoopOptions loop;
  loop.interval = config.cache.refresh_after / 3;
  loop.max_backoff = std::max(config.cache.refresh_after, pushgate::Duration(1000));
  pushgate::log::Info("sync daemon started", {{"interval", pushgate::FormatDuration(loop.interval)}});
  pushgate::RunServiceLoop(loop, [&] {
    auto start = std::chrono::steady_clock::now();
    pushgate::Result<pushgate::SyncReport> report = SyncNow(config, source);
    std::string ms = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    if (!report.ok()) {
      pushgate::log::Warn("sync failed", {{"error", report.status().message()}, {"ms", ms}});
      return false;
    }
    pushgate::log::Info("sync", {{"result", Describe(*report)}, {"ms", ms}});
    return true;
  });
  pushgate::log::Info("sync daemon stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate-sync: keep pushgate's key cache in step with the platform controller", "pushgate-sync");
  std::string config_path(pushgate::kDefaultConfigPath);
  bool once = false, daemon = false;
  std::vector<std::string> key;
  std::string metrics_listen, log_destination;
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  auto* once_flag = app.add_flag("--once", once, "sync once and exit");
  auto* daemon_flag = app.add_flag("--daemon", daemon, "keep syncing until SIGTERM");
  auto* key_option = app.add_option("--key", key, "sync for one key (TYPE BLOB), as pushgate-keys does")->expected(2);
  auto* metrics_option = app.add_option("--metrics-listen", metrics_listen,
                                        "with --daemon: serve Prometheus metrics on HOST:PORT (GET /metrics)");
  app.add_option("--log-destination", log_destination, "log here instead of [log] destination (stderr, syslog, /path)");
  once_flag->excludes(daemon_flag)->excludes(key_option);
  daemon_flag->excludes(key_option);
  metrics_option->needs(daemon_flag);
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  ::signal(SIGBUS, OnBusError);
  if (!once && !daemon && key.empty()) {
    std::fprintf(stderr, "pushgate-sync: say what to do: --once, --daemon or --key TYPE BLOB\n");
    return 2;
  }

  pushgate::Result<pushgate::Config> config = pushgate::StartComponent("pushgate-sync", config_path, log_destination);
  if (!config.ok()) {
    std::fprintf(stderr, "pushgate-sync: %s\n", config.status().message().c_str());
    return config.status().code() == pushgate::Status::Code::kPermissionDenied ? 2 : 1;
  }
  if (config->mode != pushgate::Mode::kController) {
    std::fprintf(stderr, "pushgate-sync: mode is not \"controller\" in %s; nothing to sync\n", config_path.c_str());
    return 1;
  }
  pushgate::Result<std::unique_ptr<pushgate::ControllerClient>> client =
      pushgate::ControllerClient::Create(config->controller);
  if (!client.ok()) {
    std::fprintf(stderr, "pushgate-sync: %s\n", client.status().message().c_str());
    return 1;
  }

  if (daemon) {
    // Held until main returns: the server stops when it goes.
    auto metrics = pushgate::metrics::MetricsServer::Start(*config, metrics_listen);
    if (!metrics.ok()) {
      std::fprintf(stderr, "pushgate-sync: %s\n", metrics.status().message().c_str());
      return 2;
    }
    pushgate::InstallStopHandlers();
    return RunDaemon(*config, **client);
  }
  if (!key.empty()) {
    pushgate::Status s = CountedSync(*config, [&] {
      return pushgate::SyncForKey(*config, **client, key[0], key[1], pushgate::SystemNowMs,
                                  config->cache.sync_deadline);
    });
    if (!s.ok()) pushgate::log::Warn("key sync failed", {{"error", s.message()}});
    return s.ok() ? 0 : 1;
  }
  pushgate::Result<pushgate::SyncReport> report = SyncNow(*config, **client);
  if (!report.ok()) {
    std::fprintf(stderr, "pushgate-sync: %s\n", report.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", Describe(*report).c_str());
  return 0;
}
