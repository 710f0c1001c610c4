#include "health/gateway_status.h"

#include <sys/statvfs.h>

#include <chrono>

#include "cache/cache.h"
#include "controller/client.h"
#include "controller/json.h"
#include "data-dir/drain.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/json_writer.h"

namespace pushgate {
namespace {

using Health = GatewayStatus::Health;

void Problem(GatewayStatus& s, Health health, std::string why) {
  if (static_cast<int>(health) > static_cast<int>(s.health)) s.health = health;
  s.problems.push_back(std::move(why));
}

// The value, or `fallback` when it could not be read (status reports what
// it can rather than stopping at the first unreadable item).
template <typename T>
T Or(Result<T> result, T fallback) {
  return result.ok() ? std::move(result).value() : fallback;
}

std::string Text(const Result<std::optional<std::string>>& value) {
  if (!value.ok() || !value->has_value()) return "";
  return **value;
}

void CollectDisk(const Config& config, GatewayStatus& s) {
  struct statvfs fs;
  if (::statvfs(config.data_dir.c_str(), &fs) != 0) {
    Problem(s, Health::kDown, "cannot read " + config.data_dir);
    return;
  }
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  s.disk_free_mb = free_bytes >> 20;
  s.disk_free_percent = total > 0 ? static_cast<int>(free_bytes * 100 / total) : 0;
  if (s.disk_free_percent < 2) {
    Problem(s, Health::kDown, "data_dir's disk is full (" + std::to_string(s.disk_free_mb) + " MB free)");
  } else if (s.disk_free_percent < 10) {
    Problem(s, Health::kDegraded, "data_dir's disk is " + std::to_string(100 - s.disk_free_percent) + "% full");
  }
}

void CollectCache(const Config& config, GatewayStatus& s) {
  Result<std::unique_ptr<KeyCache>> cache = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadOnly);
  if (!cache.ok()) {
    if (cache.status().IsNotFound()) {
      Problem(s, config.mode == Mode::kController ? Health::kDown : Health::kDegraded,
              config.mode == Mode::kController ? "the key cache is empty: no sync yet (pushgate-sync --once)"
                                               : "the registry is empty: add users with pushgate user add");
      return;
    }
    Problem(s, Health::kDown, "cannot open " + config.dirs().Db() + ": " + cache.status().message());
    return;
  }
  Result<lmdb::Txn> txn = (*cache)->BeginRead();
  if (!txn.ok()) {
    Problem(s, Health::kDown, "cannot read " + config.dirs().Db() + ": " + txn.status().message());
    return;
  }
  s.keys = Or((*cache)->KeyCount(*txn), uint64_t{0});
  if (config.mode != Mode::kController) return;
  s.cache_revision = Or((*cache)->GetMetaInt(*txn, kMetaRevision), int64_t{0});
  int64_t synced_at = Or((*cache)->GetMetaInt(*txn, kMetaSyncedAt), int64_t{0});
  s.cache_age_s = synced_at > 0 ? (UnixNowMs() - synced_at) / 1000 : -1;
  s.cache_feed = Text((*cache)->GetMeta(*txn, kMetaFeed));
  s.last_sync_error = Text((*cache)->GetMeta(*txn, kMetaLastError));
  if (!s.last_sync_error.empty()) Problem(s, Health::kDegraded, "the last sync failed: " + s.last_sync_error);
  if (s.cache_age_s < 0 || s.cache_age_s * 1000 > config.cache.max_staleness.count()) {
    Problem(s, Health::kDown,
            "the key cache is older than cache.max_staleness: known keys are denied until a sync succeeds");
  }
}

void CollectController(const Config& config, GatewayStatus& s) {
  Result<std::unique_ptr<ControllerClient>> client = ControllerClient::Create(config.controller);
  if (!client.ok()) {
    Problem(s, Health::kDown, client.status().message());
    return;
  }
  // Any answer of the feed (a page, 410, or 404 without one) means reachable.
  Result<FeedAnswer> answer = (*client)->FetchKeys(static_cast<uint64_t>(s.cache_revision), 1, false);
  s.controller_reachable = answer.ok();
  if (!answer.ok()) Problem(s, Health::kDegraded, "the controller is unreachable: " + answer.status().message());
}

}  // namespace

// data_dir/reaper-last.json, written whole by the reaper: shown as it is,
// and its "breaker" field (the reason, empty unless it tripped) read.
void CollectLastReaperRun(const Config& config, GatewayStatus& s) {
  std::string path = config.dirs().LastReaperRun();
  Result<std::string> text = ReadSmallFile(path, 64 * 1024);
  if (!text.ok()) return;  // no run yet
  s.last_reaper_run = *text;
  while (!s.last_reaper_run.empty() && s.last_reaper_run.back() == '\n') s.last_reaper_run.pop_back();
  Result<std::map<std::string, std::string>> run = DecodeFlatObject(*text, path);
  if (!run.ok()) {
    Problem(s, Health::kDegraded, run.status().message());
    return;
  }
  auto breaker = run->find("breaker");
  if (breaker == run->end() || !breaker->second.empty()) {
    Problem(s, Health::kDegraded, "the reaper's circuit breaker tripped on its last run");
  }
}

GatewayStatus CollectStatus(const Config& config, bool ask_controller) {
  GatewayStatus s;
  s.mode = config.mode == Mode::kController ? "controller" : "standalone";
  s.draining = Or(IsDraining(config.dirs()), false);
  if (s.draining) Problem(s, Health::kDegraded, "draining: new pushes are refused (pushgate drain off)");
  s.pushes_in_flight = Or(PushesInFlight(config.dirs()), 0);
  Result<std::vector<std::string>> repos = ListDir(config.dirs().Repos());
  s.repos = repos.ok() ? static_cast<int>(repos->size()) : 0;
  CollectDisk(config, s);
  CollectCache(config, s);
  if (config.mode == Mode::kController && ask_controller) CollectController(config, s);
  CollectLastReaperRun(config, s);
  return s;
}

std::string GatewayStatus::ToJson() const {
  static const char* kHealth[] = {"healthy", "degraded", "down"};
  std::string problem_text;
  for (const std::string& p : problems) problem_text += (problem_text.empty() ? "" : "; ") + p;
  JsonObject json;
  json.Add("health", kHealth[static_cast<int>(health)])
      .Add("problems", problem_text)
      .Add("mode", mode)
      .Add("draining", draining ? "yes" : "no")
      .Add("pushes_in_flight", pushes_in_flight)
      .Add("repos", repos)
      .Add("disk_free_mb", static_cast<int64_t>(disk_free_mb))
      .Add("disk_free_percent", disk_free_percent)
      .Add("keys", static_cast<int64_t>(keys));
  if (mode == "controller") {
    json.Add("cache_revision", cache_revision)
        .Add("cache_age_s", cache_age_s)
        .Add("cache_feed", cache_feed)
        .Add("last_sync_error", last_sync_error)
        .Add("controller_reachable", controller_reachable ? "yes" : "no");
  }
  json.Add("last_reaper_run", last_reaper_run);
  return json.Finish();
}

std::string GatewayStatus::ToText() const {
  static const char* kHealth[] = {"healthy", "degraded", "down"};
  std::string out = std::string("health: ") + kHealth[static_cast<int>(health)] + "\n";
  for (const std::string& p : problems) out += "  - " + p + "\n";
  out += "mode: " + mode + "\n";
  out += "pushes: " + std::string(draining ? "draining (new pushes refused)" : "accepted") + ", " +
         std::to_string(pushes_in_flight) + " in flight\n";
  out += "repositories: " + std::to_string(repos) + "\n";
  out += "disk: " + std::to_string(disk_free_mb) + " MB free (" + std::to_string(disk_free_percent) + "%)\n";
  out += "keys: " + std::to_string(keys) + "\n";
  if (mode == "controller") {
    out += "cache: revision " + std::to_string(cache_revision) + ", " +
           (cache_age_s < 0 ? std::string("never synced") : "synced " + std::to_string(cache_age_s) + " s ago") +
           (cache_feed.empty() ? "" : ", feed " + cache_feed) + "\n";
    out += "controller: " + std::string(controller_reachable ? "reachable" : "unreachable") + "\n";
  }
  out += "last reaper run: " + (last_reaper_run.empty() ? std::string("none") : last_reaper_run) + "\n";
  return out;
}

}  // namespace pushgate
