// Per-app advisory locks (flock(2) on a file under data_dir/locks).
//
// The kernel releases an flock when the last descriptor for it closes, so a
// crashed or killed holder never leaves a lock behind: there is nothing to
// clean up and no pid file to trust. A lock can be handed to a child (the
// forced shell takes it and hands it to git-receive-pack, so it covers the
// whole push including the pre-receive hook, and ends with git).
#ifndef PUSHGATE_UTIL_LOCK_H_
#define PUSHGATE_UTIL_LOCK_H_

#include <functional>
#include <string>

#include "util/duration.h"
#include "util/fd.h"
#include "util/status.h"

namespace pushgate {

class FileLock {
 public:
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

  // Takes the lock if it is free; Status::Unavailable if another process holds it.
  static Result<FileLock> TryAcquire(const std::string& path);

  // Waits up to `timeout` for the lock. `on_wait` runs once, when the lock is
  // found held, before waiting (to tell the user why nothing happens).
  // Status::Timeout when the wait is exhausted. `abandoned`, if given, is
  // asked while waiting; once it says true the wait ends with
  // Status::Unavailable (a waiter whose client has gone stops waiting).
  static Result<FileLock> Acquire(const std::string& path, Duration timeout, const std::function<void()>& on_wait,
                                  const std::function<bool()>& abandoned = {});

  // True if some process holds the lock on `path` right now. A missing file
  // means not held.
  static Result<bool> IsHeld(const std::string& path);

  // Removes the lock file while this lock is held. Processes waiting on the
  // old file notice (the path no longer names it) and lock a new one.
  Status Unlink(const std::string& path);

  // Gives up the object's hold on the descriptor: the lock stays held while
  // the returned descriptor, or any copy of it, is open (in this process or
  // a child that inherits it through SpawnSpec::keep_fds).
  UniqueFd Release() && { return std::move(fd_); }

  int fd() const { return fd_.get(); }

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_LOCK_H_
