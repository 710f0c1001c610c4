// Per-pusher limits, held by every session process of either front end
// through files in data_dir/pushers (data-dir/data_dir.h), so that they hold
// across pushgate-shell processes as well as inside pushgate-sshd:
//
//   push slots   push.max_pushes_per_user flock(2)ed files per key owner; a
//                push holds one for its whole life (handed to git like the
//                app lock), so a killed push frees its slot with its last
//                descriptor.
//   request rate push.max_requests_per_minute sessions a minute per key
//                owner, as GCRA (a token bucket kept as one timestamp): the
//                whole minute's worth may come at once, then one per
//                1/rate of a minute.
#ifndef PUSHGATE_SESSION_PUSHER_LIMITS_H_
#define PUSHGATE_SESSION_PUSHER_LIMITS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "data-dir/data_dir.h"
#include "util/lock.h"
#include "util/status.h"

namespace pushgate {

// A free push slot of `owner`, or ResourceExhausted (a message for the
// pusher naming the limit) when all `max` are held. `max` 0: no slot is
// taken and nullopt is returned.
Result<std::optional<FileLock>> TakePushSlot(const DataDir& dirs, std::string_view owner, std::string_view pusher,
                                             int max);

// Counts one request of `owner` at `now_ms`, or ResourceExhausted (saying
// when to try again) if it would exceed `per_minute`. 0: no limit.
Status CountRequest(const DataDir& dirs, std::string_view owner, std::string_view pusher, int per_minute,
                    int64_t now_ms);

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_PUSHER_LIMITS_H_
