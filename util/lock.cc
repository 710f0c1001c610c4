#include "util/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
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

// A lock file may be unlinked by its holder (the reaper removes the lock
// files of deleted apps under the lock). Whoever locked the old inode while
// it was being unlinked holds nothing: the path must still name the file.
Result<bool> StillNamesFile(int fd, const std::string& path) {
  struct stat held, named;
  if (::fstat(fd, &held) != 0) return Status::FromErrno(errno, "stat lock " + path);
  if (::stat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) return false;
    return Status::FromErrno(errno, "stat lock " + path);
  }
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

// Opens and locks `path` without waiting; an invalid fd if another process
// holds it.
Result<UniqueFd> TryLockPath(const std::string& path) {
  for (;;) {
    PG_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(path));
    PG_ASSIGN_OR_RETURN(bool locked, TryFlock(fd.get(), LOCK_EX, path));
    if (!locked) return UniqueFd();
    PG_ASSIGN_OR_RETURN(bool current, StillNamesFile(fd.get(), path));
    if (current) return fd;
  }
}

}  // namespace

Result<FileLock> FileLock::TryAcquire(const std::string& path) {
  PG_ASSIGN_OR_RETURN(UniqueFd fd, TryLockPath(path));
  if (!fd.valid()) return Status::Unavailable(path + " is locked by another process");
  return FileLock(std::move(fd));
}

Result<FileLock> FileLock::Acquire(const std::string& path, Duration timeout, const std::function<void()>& on_wait,
                                   const std::function<bool()>& abandoned) {
  PG_ASSIGN_OR_RETURN(UniqueFd fd, TryLockPath(path));
  if (fd.valid()) return FileLock(std::move(fd));
  if (on_wait) on_wait();
  // flock has no timed wait; polling with a short, growing interval keeps the
  // hand-over latency low without a timer signal that would disturb callers.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  long interval_ms = 10;
  while (std::chrono::steady_clock::now() < deadline) {
    struct timespec ts = {0, interval_ms * 1000000L};
    ::nanosleep(&ts, nullptr);
    if (interval_ms < 200) interval_ms *= 2;
    if (abandoned && abandoned()) return Status::Unavailable("stopped waiting for " + path);
    PG_ASSIGN_OR_RETURN(fd, TryLockPath(path));
    if (fd.valid()) return FileLock(std::move(fd));
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

Status FileLock::Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "remove lock " + path);
  return Status::OK();
}

}  // namespace pushgate
