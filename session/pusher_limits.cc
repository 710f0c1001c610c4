#include "session/pusher_limits.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

constexpr int64_t kMinuteMs = 60 * 1000;

// The bucket's one number: when the pusher's requests so far would have
// been spent at the steady rate (GCRA's theoretical arrival time).
Result<int64_t> ReadTat(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) return Status::FromErrno(errno, "read the request rate");
  int64_t tat = 0;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] < '0' || buf[i] > '9') return int64_t{0};  // torn or foreign: start a fresh bucket
    tat = tat * 10 + (buf[i] - '0');
  }
  return tat;
}

}  // namespace

Result<std::optional<FileLock>> TakePushSlot(const DataDir& dirs, std::string_view owner, std::string_view pusher,
                                             int max) {
  if (max <= 0) return std::optional<FileLock>();
  for (int slot = 0; slot < max; ++slot) {
    Result<FileLock> lock = FileLock::TryAcquire(dirs.PusherPushSlot(owner, slot));
    if (lock.status().IsNotFound()) {  // the first push of this data_dir: make the directory once
      PG_RETURN_IF_ERROR(MakeDirs(dirs.Pushers(), 0750));
      lock = FileLock::TryAcquire(dirs.PusherPushSlot(owner, slot));
    }
    if (lock.ok()) return std::optional<FileLock>(std::move(lock).value());
    if (lock.status().code() != Status::Code::kUnavailable) return lock.status();
  }
  return Status::ResourceExhausted("too many pushes in progress for " + std::string(pusher) + " (" +
                                   std::to_string(max) +
                                   " at once, push.max_pushes_per_user); try again when one has finished");
}

Status CountRequest(const DataDir& dirs, std::string_view owner, std::string_view pusher, int per_minute,
                    int64_t now_ms) {
  if (per_minute <= 0) return Status::OK();
  std::string path = dirs.PusherRate(owner);
  constexpr int kFlags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), kFlags, 0640));
  if (!fd.valid() && errno == ENOENT) {  // the first session of this data_dir: make the directory once
    PG_RETURN_IF_ERROR(MakeDirs(dirs.Pushers(), 0750));
    fd.Reset(::open(path.c_str(), kFlags, 0640));
  }
  if (!fd.valid()) return Status::FromErrno(errno, "open " + path);
  // Held for a read and a write: a few microseconds.
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "lock " + path);
  }
  PG_ASSIGN_OR_RETURN(int64_t tat, ReadTat(fd.get()));
  const int64_t interval = kMinuteMs / per_minute;
  const int64_t tolerance = kMinuteMs - interval;  // a whole minute's worth at once
  int64_t start = tat > now_ms ? tat : now_ms;
  if (start - now_ms > tolerance) {
    int64_t wait_s = (start - now_ms - tolerance + 999) / 1000;
    return Status::ResourceExhausted(std::string(pusher) + " made " + std::to_string(per_minute) +
                                     " requests in the last minute, the most allowed "
                                     "(push.max_requests_per_minute); try again in " +
                                     std::to_string(wait_s) + "s");
  }
  std::string next = std::to_string(start + interval);
  if (::pwrite(fd.get(), next.data(), next.size(), 0) != static_cast<ssize_t>(next.size()) ||
      ::ftruncate(fd.get(), static_cast<off_t>(next.size())) != 0) {
    return Status::FromErrno(errno, "write " + path);
  }
  return Status::OK();
}

}  // namespace pushgate
