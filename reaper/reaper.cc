#include "reaper/reaper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "reaper/trash.h"
#include "releases/releases.h"
#include "util/duration.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/names.h"

namespace pushgate {
namespace {

using AppState = Backend::AppState;
constexpr std::string_view kRepoSuffix = ".git";

// Modification time in unix ms; 0 if the path does not exist.
int64_t MtimeMs(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// The last time a push changed `app`'s repository: the repo directory, its
// branch refs and packed refs. (Lock files say nothing: flock does not touch
// them, and a push in progress is seen by its lock being held.)
int64_t LastActivityMs(const Config& config, const std::string& app) {
  std::string repo = config.dirs().Repo(app);
  int64_t newest = std::max({MtimeMs(repo), MtimeMs(repo + "/packed-refs"), MtimeMs(repo + "/refs/heads")});
  Result<std::vector<std::string>> heads = ListDir(repo + "/refs/heads");
  if (heads.ok()) {
    for (const std::string& head : *heads) newest = std::max(newest, MtimeMs(repo + "/refs/heads/" + head));
  }
  return newest;
}

bool Stopped(const ReapOptions& options) { return options.stop != nullptr && options.stop->load(); }

// Staging directories of deploys that were killed outright, under the app
// lock (a deploy in progress holds it and owns its staging directory), and
// retired releases whose deleter died (releases/releases.h: a deleter at
// work holds its entry's flock, so none is taken from under one).
void RemoveStaleStaging(const Config& config, int64_t cutoff, bool dry_run, ReapSummary& summary) {
  Result<std::vector<std::string>> apps = ListDir(config.dirs().Releases());
  if (!apps.ok()) return;
  for (const std::string& app : *apps) {
    if (!IsValidAppName(app)) continue;
    std::string app_dir = config.dirs().Releases() + "/" + app;
    Result<std::vector<std::string>> entries = ListDir(app_dir);
    if (!entries.ok()) continue;
    if (!dry_run && std::any_of(entries->begin(), entries->end(), IsRetiredRelease)) {
      Result<int> deleted = RemoveRetiredReleases(app_dir);
      if (deleted.ok()) {
        summary.leftovers_removed += *deleted;
      } else {
        ++summary.errors;
        log::Error("cannot delete a retired release", {{"app", app}, {"error", deleted.status().message()}});
      }
    }
    for (const std::string& name : *entries) {
      std::string path = app_dir + "/" + name;
      if (name.rfind(kReleaseStagingPrefix, 0) != 0 || MtimeMs(path) >= cutoff) continue;
      Result<FileLock> lock = FileLock::TryAcquire(config.dirs().AppLock(app));
      if (!lock.ok()) continue;
      if (!dry_run) {
        Status removed = RemoveTree(path);
        if (!removed.ok()) {
          ++summary.errors;
          log::Error("cannot remove a stale release staging directory", {{"path", path}, {"error", removed.message()}});
          continue;
        }
      }
      ++summary.leftovers_removed;
    }
  }
}

// Temporary archives of crashed pushes, staging directories of killed
// deploys, and lock files of apps whose repo is gone, once older than the
// grace period.
void RemoveLeftovers(const Config& config, int64_t now_ms, bool dry_run, ReapSummary& summary) {
  int64_t cutoff = now_ms - config.reaper.grace.count();
  RemoveStaleStaging(config, cutoff, dry_run, summary);
  Result<std::vector<std::string>> tmp = ListDir(config.dirs().Tmp());
  if (tmp.ok()) {
    for (const std::string& name : *tmp) {
      std::string path = config.dirs().Tmp() + "/" + name;
      if (MtimeMs(path) >= cutoff) continue;
      if (!dry_run && ::unlink(path.c_str()) != 0) continue;
      ++summary.leftovers_removed;
    }
  }
  Result<std::vector<std::string>> locks = ListDir(config.dirs().Locks());
  if (!locks.ok()) return;
  for (const std::string& name : *locks) {
    std::string app = AppOfLockFile(name);
    if (app.empty() || MtimeMs(config.dirs().Repo(app)) != 0) continue;
    std::string path = config.dirs().AppLock(app);
    if (MtimeMs(path) >= cutoff) continue;
    // Taken, so no push is using it; waiters on the old file move to a new
    // one (FileLock checks the path still names the file it locked).
    Result<FileLock> lock = FileLock::TryAcquire(path);
    if (!lock.ok()) continue;
    if (!dry_run && !lock->Unlink(path).ok()) continue;
    ++summary.leftovers_removed;
  }
}

// The app names of data_dir/repos, sorted.
Result<std::vector<std::string>> ScanRepos(const Config& config) {
  Result<std::vector<std::string>> entries = ListDir(config.dirs().Repos());
  if (!entries.ok()) {
    if (entries.status().IsNotFound()) return std::vector<std::string>();
    return entries.status();
  }
  std::vector<std::string> apps;
  for (const std::string& entry : *entries) {
    if (entry.size() <= kRepoSuffix.size() || entry.substr(entry.size() - kRepoSuffix.size()) != kRepoSuffix) continue;
    std::string app = entry.substr(0, entry.size() - kRepoSuffix.size());
    if (IsValidAppName(app)) apps.push_back(std::move(app));
  }
  std::sort(apps.begin(), apps.end());
  return apps;
}

// Moves the repo into the trash under its app lock, and hands the entry to
// `emptier` to delete. Returns false (and says why in the summary) if the
// repo was kept.
bool Remove(const Config& config, const std::string& app, int64_t now_ms, TrashEmptier& emptier, ReapSummary& summary) {
  Result<FileLock> lock = FileLock::TryAcquire(config.dirs().AppLock(app));
  if (!lock.ok()) {
    if (lock.status().code() == Status::Code::kUnavailable) {
      ++summary.skipped_locked;
    } else {
      ++summary.errors;
      log::Error("cannot take an app lock", {{"app", app}, {"error", lock.status().message()}});
    }
    return false;
  }
  // A push may have finished between the scan and the lock.
  if (LastActivityMs(config, app) >= now_ms - config.reaper.grace.count()) {
    ++summary.skipped_recent;
    return false;
  }
  Result<std::string> entry = MoveToTrash(config, app);
  if (!entry.ok()) {
    ++summary.errors;
    log::Error("cannot remove a repository", {{"app", app}, {"error", entry.status().message()}});
    return false;
  }
  emptier.Add(std::move(*entry));
  log::Info("removed the repository of a deleted app", {{"app", app}});
  return true;
}

// data_dir/reaper-last.json, which `pushgate status` shows and reads the
// breaker from; replaced whole.
void RecordLastRun(const Config& config, const std::string& json) {
  std::string path = config.dirs().LastReaperRun();
  Status written = WriteFileAtomically(path, json + "\n", 0640);
  if (!written.ok()) log::Warn("cannot record the reaper's summary", {{"path", path}, {"error", written.message()}});
}

}  // namespace

std::string ReapSummary::ToJson() const {
  return JsonObject()
      .Add("scanned", scanned)
      .Add("kept", kept)
      .Add(dry_run ? "would_remove" : "removed", removed)
      .Add("skipped_locked", skipped_locked)
      .Add("skipped_recent", skipped_recent)
      .Add("skipped_unknown", skipped_unknown)
      .Add("recreated", recreated)
      .Add("trash_finished", trash_finished)
      .Add("leftovers_removed", leftovers_removed)
      .Add("errors", errors)
      .Add("breaker", breaker_tripped ? breaker_reason : "")
      .Add("dry_run", dry_run ? "yes" : "no")
      .Add("stopped", stopped ? "yes" : "no")
      .Add("ms", static_cast<int64_t>(seconds * 1000))
      .Finish();
}

int ReapSummary::ExitCode() const {
  if (breaker_tripped) return 3;
  return errors > 0 || skipped_unknown > 0 ? 1 : 0;
}

namespace {

// Step 1: what the backend says of every repository's app. Returns the apps
// that are gone and, as far as this scan can tell, safe to remove.
std::vector<std::string> FindCandidates(const Config& config, Backend& backend, const std::vector<std::string>& apps,
                                        int64_t now_ms, ReapSummary& summary) {
  std::vector<AppState> states = backend.CheckApps(apps);
  std::vector<std::string> candidates;
  for (size_t i = 0; i < apps.size(); ++i) {
    const std::string& app = apps[i];
    switch (states[i]) {
      case AppState::kExists: ++summary.kept; continue;
      case AppState::kUnknown: ++summary.skipped_unknown; continue;
      case AppState::kGone: break;
    }
    Result<bool> locked = FileLock::IsHeld(config.dirs().AppLock(app));
    if (!locked.ok() || *locked) {
      ++summary.skipped_locked;
    } else if (LastActivityMs(config, app) >= now_ms - config.reaper.grace.count()) {
      ++summary.skipped_recent;
    } else {
      candidates.push_back(app);
    }
  }
  return candidates;
}

// Step 2, the circuit breaker. It looks at what the backend claims is gone,
// before any exception: a backend that lost its apps must not get through
// in pieces. True if the run may go on removing.
bool BreakerAllows(const Config& config, const ReapOptions& options, size_t candidates, ReapSummary& summary) {
  size_t gone = candidates + static_cast<size_t>(summary.skipped_locked + summary.skipped_recent);
  double fraction = summary.scanned > 0 ? static_cast<double>(gone) / summary.scanned : 0;
  bool few = gone <= static_cast<size_t>(config.reaper.min_allowed);
  if (few || (gone <= static_cast<size_t>(config.reaper.max_per_run) && fraction <= config.reaper.max_fraction)) {
    return true;
  }
  summary.breaker_reason = std::to_string(gone) + " of " + std::to_string(summary.scanned) +
                           " repositories belong to deleted apps, more than reaper.max_per_run (" +
                           std::to_string(config.reaper.max_per_run) + ") or reaper.max_fraction (" +
                           std::to_string(static_cast<int>(config.reaper.max_fraction * 100)) +
                           "%) allow, and more than reaper.min_allowed (" + std::to_string(config.reaper.min_allowed) +
                           ")";
  if (options.force) return true;
  summary.breaker_tripped = true;
  log::Error("circuit breaker: removing nothing; check the backend, or run with --force",
             {{"reason", summary.breaker_reason}});
  return false;
}

// Step 3: the candidates, asked again without holding any lock (an app
// created again since the scan keeps its repository), then removed. They
// are asked in batches of kRecheckBatch, each just before its removals:
// one request per batch instead of one per app, and the time between an
// app's answer and its removal stays that of a few dozen removals. The
// trees moved out are deleted on a second thread meanwhile; the run waits
// for them (a failed or unfinished one is left to the next run).
constexpr size_t kRecheckBatch = 100;

void RemoveCandidates(const Config& config, Backend& backend, const ReapOptions& options,
                      const std::vector<std::string>& candidates, int64_t now_ms, ReapSummary& summary) {
  if (!candidates.empty() && !options.dry_run) {
    Status locks = MakeDirs(config.dirs().Locks(), 0750);
    if (!locks.ok()) {
      ++summary.errors;
      log::Error("cannot create the locks directory", {{"error", locks.message()}});
      return;
    }
  }
  TrashEmptier emptier(options.stop);
  for (size_t begin = 0; begin < candidates.size() && !Stopped(options); begin += kRecheckBatch) {
    std::vector<std::string> batch(candidates.begin() + static_cast<std::ptrdiff_t>(begin),
                                   candidates.begin() + static_cast<std::ptrdiff_t>(
                                                            std::min(candidates.size(), begin + kRecheckBatch)));
    std::vector<AppState> states = backend.CheckApps(batch);
    for (size_t i = 0; i < batch.size() && !Stopped(options); ++i) {
      if (states[i] != AppState::kGone) {
        ++summary.recreated;
        continue;
      }
      if (options.dry_run || Remove(config, batch[i], now_ms, emptier, summary)) {
        ++summary.removed;
        summary.removed_apps.push_back(batch[i]);
      }
    }
  }
  summary.errors += emptier.Finish().failed;
}

}  // namespace

ReapSummary Reap(const Config& config, Backend& backend, const ReapOptions& options) {
  auto start = std::chrono::steady_clock::now();
  ReapSummary summary;
  summary.dry_run = options.dry_run;
  auto finish = [&]() {
    summary.stopped = Stopped(options);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
  };
  int64_t now_ms = UnixNowMs();
  if (!options.dry_run) {
    Result<int> finished = FinishTrash(config);
    if (finished.ok()) {
      summary.trash_finished = *finished;
    } else {
      ++summary.errors;
      log::Error("cannot empty the trash", {{"error", finished.status().message()}});
    }
  }
  Result<std::vector<std::string>> apps = ScanRepos(config);
  if (!apps.ok()) {
    ++summary.errors;
    log::Error("cannot list the repositories", {{"error", apps.status().message()}});
    return finish();
  }
  summary.scanned = static_cast<int>(apps->size());
  if (Stopped(options)) return finish();
  std::vector<std::string> candidates = FindCandidates(config, backend, *apps, now_ms, summary);
  if (BreakerAllows(config, options, candidates.size(), summary)) {
    RemoveCandidates(config, backend, options, candidates, now_ms, summary);
  }
  if (!Stopped(options)) RemoveLeftovers(config, now_ms, options.dry_run, summary);
  finish();
  if (!options.dry_run) RecordLastRun(config, summary.ToJson());
  return summary;
}

}  // namespace pushgate
