// pushgate-sync: controller mode's network side of the key cache.
//
//   pushgate-sync --config F --once            one sync; exit 0 if the controller answered
//   pushgate-sync --config F --daemon          keep the cache warm (sidecar); SIGTERM stops it
//   pushgate-sync --config F --key TYPE BLOB   what pushgate-keys runs on a miss or stale hit
//
// Runs as git_user (the owner of data_dir), never as root.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "cache/sync_service.h"
#include "config/config.h"
#include "controller/client.h"
#include "util/log.h"

namespace {

std::atomic<bool> g_stop{false};

void OnStop(int) { g_stop.store(true); }

// Sleeps in short steps so SIGTERM is noticed promptly.
void SleepUnlessStopped(pushgate::Duration d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string Describe(const pushgate::SyncReport& r) {
  if (r.outcome == pushgate::SyncReport::Outcome::kNoFeed) {
    return "the controller has no delta feed; keys are looked up one by one";
  }
  return std::string(r.resynced ? "resynced" : "synced") + " to revision " + std::to_string(r.revision) + " from " +
         std::to_string(r.from_revision) + ": " + std::to_string(r.pages) + " pages, " + std::to_string(r.puts) +
         " puts, " + std::to_string(r.deletes) + " deletes, " + std::to_string(r.rejected) + " rejected";
}

// The daemon: a sync every refresh_after/3 (jittered by +-20% so replicas
// do not ask together), backing off exponentially while the controller fails.
int RunDaemon(const pushgate::Config& config, pushgate::KeySource& source) {
  std::mt19937 rng(std::random_device{}());
  const pushgate::Duration interval = config.cache.refresh_after / 3;
  pushgate::Duration backoff = std::chrono::seconds(1);
  pushgate::log::Info("sync daemon started", {{"interval", pushgate::FormatDuration(interval)}});
  while (!g_stop.load()) {
    pushgate::Result<pushgate::SyncReport> report =
        pushgate::SyncOnce(config, source, pushgate::SystemNowMs, config.cache.refresh_after);
    pushgate::Duration next;
    if (report.ok()) {
      pushgate::log::Info("sync", {{"result", Describe(*report)}});
      backoff = std::chrono::seconds(1);
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      next = pushgate::Duration(static_cast<int64_t>(static_cast<double>(interval.count()) * jitter(rng)));
    } else {
      pushgate::log::Warn("sync failed", {{"error", report.status().message()},
                                          {"retry_in", pushgate::FormatDuration(backoff)}});
      next = backoff;
      backoff = std::min(backoff * 2, std::max(config.cache.refresh_after, pushgate::Duration(1000)));
    }
    SleepUnlessStopped(next);
  }
  pushgate::log::Info("sync daemon stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate-sync: keep pushgate's key cache in step with the platform controller");
  std::string config_path(pushgate::kDefaultConfigPath);
  bool once = false, daemon = false;
  std::vector<std::string> key;
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  auto* once_flag = app.add_flag("--once", once, "sync once and exit");
  auto* daemon_flag = app.add_flag("--daemon", daemon, "keep syncing until SIGTERM");
  auto* key_option = app.add_option("--key", key, "sync for one key (TYPE BLOB), as pushgate-keys does")->expected(2);
  once_flag->excludes(daemon_flag)->excludes(key_option);
  daemon_flag->excludes(key_option);
  CLI11_PARSE(app, argc, argv);
  if (!once && !daemon && key.empty()) {
    std::fprintf(stderr, "pushgate-sync: say what to do: --once, --daemon or --key TYPE BLOB\n");
    return 2;
  }

  if (::geteuid() == 0) {
    std::fprintf(stderr, "pushgate-sync: run it as git_user (the owner of data_dir), not as root\n");
    return 2;
  }
  pushgate::log::Configure("pushgate-sync", {pushgate::log::Destination::Kind::kSyslog, ""},
                           pushgate::log::Level::kInfo);
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "pushgate-sync: %s\n", config.status().message().c_str());
    return 1;
  }
  pushgate::log::Configure("pushgate-sync", config->log.destination, config->log.level);
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
    struct sigaction sa = {};
    sa.sa_handler = OnStop;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
    return RunDaemon(*config, **client);
  }
  if (!key.empty()) {
    pushgate::Status s = pushgate::SyncForKey(*config, **client, key[0], key[1], pushgate::SystemNowMs,
                                              config->cache.sync_deadline);
    if (!s.ok()) pushgate::log::Warn("key sync failed", {{"error", s.message()}});
    return s.ok() ? 0 : 1;
  }
  pushgate::Result<pushgate::SyncReport> report =
      pushgate::SyncOnce(*config, **client, pushgate::SystemNowMs, config->cache.refresh_after);
  if (!report.ok()) {
    std::fprintf(stderr, "pushgate-sync: %s\n", report.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", Describe(*report).c_str());
  return 0;
}
