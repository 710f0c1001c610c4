// Crash-safe removal of a repository: one rename into data_dir/trash, then a
// delete there. A crash leaves either the repository or a trash entry, never
// half a repository where pushes look; FinishTrash completes what was left.
// Shared by pushgate-reaper and `pushgate app rm --purge`.
#ifndef PUSHGATE_REAPER_TRASH_H_
#define PUSHGATE_REAPER_TRASH_H_

#include <string>

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

// The caller holds `app`'s lock. NotFound if there is no repository.
Status TrashRepository(const Config& config, const std::string& app);

// Takes `app`'s lock (Unavailable if a push holds it) and trashes the
// repository; OK if there was none.
Status PurgeRepository(const Config& config, const std::string& app);

// Deletes every entry of data_dir/trash; returns how many went.
Result<int> FinishTrash(const Config& config);

}  // namespace pushgate

#endif  // PUSHGATE_REAPER_TRASH_H_
