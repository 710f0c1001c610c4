// What pushgate-sync does, as functions: one sync under the sync lock, and
// the keys helper's request to make the cache answer for one key.
//
// The sync lock (an flock on DataDir::SyncLock) lets one process at a time
// talk to the controller. The others wait for it, up to their deadline, and
// then find the cache fresh and do not ask the controller themselves.
#ifndef PUSHGATE_SYNC_SYNC_SERVICE_H_
#define PUSHGATE_SYNC_SYNC_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "sync/sync.h"
#include "config/config.h"
#include "util/status.h"

namespace pushgate {

using Clock = std::function<int64_t()>;  // unix ms (UnixNowMs, util/duration.h, is the wall clock)

// pushgate-sync --once and each round of --daemon: a delta sync (or, without
// a feed, nothing to pull: lookups happen per key). Records the attempt.
Result<SyncReport> SyncOnce(const Config& config, KeySource& source, const Clock& clock, Duration lock_wait);

// pushgate-sync --key TYPE BLOB: make the cache current for this key, via
// the delta feed or a per-key lookup, unless another process did so while
// this one waited for the lock. Timeout if the lock is not had by `deadline`.
Status SyncForKey(const Config& config, KeySource& source, std::string_view type, std::string_view blob,
                  const Clock& clock, Duration deadline);

}  // namespace pushgate

#endif  // PUSHGATE_SYNC_SYNC_SERVICE_H_
