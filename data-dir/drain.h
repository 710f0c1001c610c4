// Draining a gateway before it is replaced: while data_dir/drain exists, new
// pushes are refused with a "paused for maintenance" message and pushes in
// flight run to the end. Fetches and clones are not affected.
#ifndef PUSHGATE_DATA_DIR_DRAIN_H_
#define PUSHGATE_DATA_DIR_DRAIN_H_

#include "data-dir/data_dir.h"
#include "util/status.h"

namespace pushgate {

Result<bool> IsDraining(const DataDir& dirs);
Status SetDraining(const DataDir& dirs, bool draining);

// Pushes running now: app locks held (by pushgate-shell and, through exec,
// git-receive-pack and the hook).
Result<int> PushesInFlight(const DataDir& dirs);

// What a pusher sees while the gateway drains.
std::string DrainingMessage(std::string_view app);

}  // namespace pushgate

#endif  // PUSHGATE_DATA_DIR_DRAIN_H_
