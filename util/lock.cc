#include "util/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include <cerrno>
#include <chrono>

namespace pushgate {
namespace {

Result<UniqueFd> OpenLockFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "open lock " + path);
  return fd;
}

// Returns true if locked, false if held elsewhere.
Result<bool> TryFlock(int fd, int op, const std::string& path) {
  for (;;) {
    if (::flock(fd, op | LOCK_NB) == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    return Status::FromErrno(errno, "lock " + path);
  }
}

}  // namespace

Result<FileLock> FileLock::TryAcquire(const std::string& path) {
  PG_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(path));
  PG_ASSIGN_OR_RETURN(bool locked, TryFlock(fd.get(), LOCK_EX, path));
  if (!locked) return Status::Unavailable(path + " is locked by another process");
  return FileLock(std::move(fd));
}

Result<FileLock> FileLock::Acquire(const std::string& path, Duration timeout,
                                   const std::function<void()>& on_wait) {
  PG_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(path));
  PG_ASSIGN_OR_RETURN(bool locked, TryFlock(fd.get(), LOCK_EX, path));
  if (locked) return FileLock(std::move(fd));
  if (on_wait) on_wait();
  // flock has no timed wait; polling with a short, growing interval keeps the
  // hand-over latency low without a timer signal that would disturb callers.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  long interval_ms = 10;
  while (std::chrono::steady_clock::now() < deadline) {
    struct timespec ts = {0, interval_ms * 1000000L};
    ::nanosleep(&ts, nullptr);
    if (interval_ms < 200) interval_ms *= 2;
    PG_ASSIGN_OR_RETURN(bool got, TryFlock(fd.get(), LOCK_EX, path));
    if (got) return FileLock(std::move(fd));
  }
  return Status::Timeout("gave up waiting for " + path + " after " + FormatDuration(timeout));
}

Result<bool> FileLock::IsHeld(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return false;
    return Status::FromErrno(errno, "open lock " + path);
  }
  PG_ASSIGN_OR_RETURN(bool locked, TryFlock(fd.get(), LOCK_SH, path));
  return !locked;
}

Status FileLock::KeepAcrossExec() {
  int flags = ::fcntl(fd_.get(), F_GETFD);
  if (flags < 0 || ::fcntl(fd_.get(), F_SETFD, flags & ~FD_CLOEXEC) != 0) {
    return Status::FromErrno(errno, "fcntl lock fd");
  }
  return Status::OK();
}

}  // namespace pushgate
