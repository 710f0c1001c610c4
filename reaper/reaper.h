// pushgate-reaper: removes the repositories of apps that no longer exist.
//
// It is the one component that deletes data, so every rule leans towards
// keeping: only an explicit "does not exist" from the backend counts; a repo
// whose app lock is held (a push in progress) or that changed within the
// grace period is left alone; existence is asked again right before removal;
// and a run that would remove more than max_fraction or max_per_run of the
// repos removes nothing (a controller wrongly saying "no apps exist" must not
// wipe the gateway). Removal is a rename into data_dir/trash followed by a
// delete, so a crash leaves the repo or a trash entry, which the next run
// finishes. No lock is held while the backend is asked.
#ifndef PUSHGATE_REAPER_REAPER_H_
#define PUSHGATE_REAPER_REAPER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/config.h"

namespace pushgate {

struct ReapOptions {
  bool dry_run = false;  // report what would go, change nothing
  bool force = false;    // remove even if the circuit breaker trips
  const std::atomic<bool>* stop = nullptr;  // finish the current step and return
};

struct ReapSummary {
  int scanned = 0;          // repositories found
  int kept = 0;             // their app exists
  int removed = 0;          // (or, in a dry run, would be)
  int skipped_locked = 0;   // app gone, but a push holds the lock
  int skipped_recent = 0;   // app gone, but changed within the grace period
  int skipped_unknown = 0;  // the backend could not say
  int recreated = 0;        // gone at first, back when checked again
  int trash_finished = 0;   // entries left by an interrupted run, deleted
  int leftovers_removed = 0;  // old temporary archives and unused lock files
  int errors = 0;
  bool breaker_tripped = false;
  bool dry_run = false;
  bool stopped = false;  // interrupted by `stop`
  std::vector<std::string> removed_apps;  // for the log and --dry-run
  std::string breaker_reason;
  double seconds = 0;

  // One JSON object on one line, the run's record in the log.
  std::string ToJson() const;
  // 0 clean; 1 errors or apps the backend could not check; 3 the breaker
  // tripped (nothing was removed).
  int ExitCode() const;
};

ReapSummary Reap(const Config& config, Backend& backend, const ReapOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_REAPER_REAPER_H_
