// pushgate-sync: controller mode's network side of the key cache.
//
//   pushgate-sync --config F --once            one sync; exit 0 if the controller answered
//   pushgate-sync --config F --daemon          keep the cache warm (sidecar); SIGTERM stops it
//   pushgate-sync --config F --key TYPE BLOB   what pushgate-keys runs on a miss or stale hit
//
// Runs as git_user (the owner of data_dir), never as root.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "cache/sync_service.h"
#include "config/config.h"
#include "controller/client.h"
#include "util/log.h"
#include "util/service_loop.h"

namespace {

std::string Describe(const pushgate::SyncReport& r) {
  if (r.outcome == pushgate::SyncReport::Outcome::kNoFeed) {
    return "the controller has no delta feed; keys are looked up one by one";
  }
  return std::string(r.resynced ? "resynced" : "synced") + " to revision " + std::to_string(r.revision) + " from " +
         std::to_string(r.from_revision) + ": " + std::to_string(r.pages) + " pages, " + std::to_string(r.puts) +
         " puts, " + std::to_string(r.deletes) + " deletes, " + std::to_string(r.rejected) + " rejected";
}

// The daemon: a sync every refresh_after/3, backing off while the
// controller fails.
int RunDaemon(const pushgate::Config& config, pushgate::KeySource& source) {
  pushgate::LoopOptions loop;
  loop.interval = config.cache.refresh_after / 3;
  loop.max_backoff = std::max(config.cache.refresh_after, pushgate::Duration(1000));
  pushgate::log::Info("sync daemon started", {{"interval", pushgate::FormatDuration(loop.interval)}});
  pushgate::RunServiceLoop(loop, [&] {
    pushgate::Result<pushgate::SyncReport> report =
        pushgate::SyncOnce(config, source, pushgate::SystemNowMs, config.cache.refresh_after);
    if (!report.ok()) {
      pushgate::log::Warn("sync failed", {{"error", report.status().message()}});
      return false;
    }
    pushgate::log::Info("sync", {{"result", Describe(*report)}});
    return true;
  });
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
    pushgate::InstallStopHandlers();
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
