#include "util/lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/testing/testing.h"
#include "util/process.h"

namespace pushgate {
namespace {

using testing::TempDir;

// Forks a child that takes the lock, signals readiness on a pipe and then
// waits to be killed, so the test controls a real foreign holder.
pid_t HoldLockInChild(const std::string& path) {
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    Result<FileLock> lock = FileLock::TryAcquire(path);
    char c = lock.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  EXPECT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  ::close(ready[0]);
  ::close(ready[1]);
  return pid;
}

void Kill(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(FileLockTest, ExclusiveWithinAndAcrossProcesses) {
  TempDir dir;
  std::string path = dir / "app.lock";
  EXPECT_FALSE(*FileLock::IsHeld(path));  // no file yet
  {
    Result<FileLock> first = FileLock::TryAcquire(path);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(*FileLock::IsHeld(path));
    Result<FileLock> second = FileLock::TryAcquire(path);
    EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
  }
  EXPECT_FALSE(*FileLock::IsHeld(path));
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
}

// The reaper unlinks a deleted app's lock file while holding it; a pusher
// already waiting on the old file must end up holding the file at the path,
// so a third process still sees the app locked.
TEST(FileLockTest, UnlinkedWhileHeldWaitersMoveToTheNewFile) {
  TempDir dir;
  std::string path = dir / "app.lock";
  Result<FileLock> holder = FileLock::TryAcquire(path);
  ASSERT_TRUE(holder.ok());
  Result<FileLock> waiter = Status::Internal("not yet");
  std::thread waiting([&] { waiter = FileLock::Acquire(path, std::chrono::seconds(10), nullptr); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the waiter has opened the old file
  ASSERT_TRUE(holder->Unlink(path).ok());
  *holder = std::move(FileLock::TryAcquire(dir / "other.lock")).value();  // releases the old file
  waiting.join();
  ASSERT_TRUE(waiter.ok()) << waiter.status().ToString();
  EXPECT_TRUE(*FileLock::IsHeld(path));
  EXPECT_EQ(FileLock::TryAcquire(path).status().code(), Status::Code::kUnavailable);
}

TEST(FileLockTest, KilledHolderReleasesTheLock) {
  TempDir dir;
  std::string path = dir / "app.lock";
  pid_t holder = HoldLockInChild(path);
  EXPECT_TRUE(*FileLock::IsHeld(path));
  EXPECT_FALSE(FileLock::TryAcquire(path).ok());
  Kill(holder);
  EXPECT_FALSE(*FileLock::IsHeld(path));
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
}

TEST(FileLockTest, AcquireWaitsTellsAndTimesOut) {
  TempDir dir;
  std::string path = dir / "app.lock";
  pid_t holder = HoldLockInChild(path);
  int notified = 0;
  Result<FileLock> lock = FileLock::Acquire(path, std::chrono::milliseconds(300), [&] { ++notified; });
  EXPECT_EQ(lock.status().code(), Status::Code::kTimeout);
  EXPECT_EQ(notified, 1);
  Kill(holder);
}

// A waiter whose client has gone stops waiting at once instead of sitting
// out the whole timeout (30 killed clients used to leave 30 waiting shells
// for the 10 minutes of push.lock_timeout).
TEST(FileLockTest, AnAbandonedWaitEndsBeforeTheTimeout) {
  TempDir dir;
  std::string path = dir / "app.lock";
  pid_t holder = HoldLockInChild(path);
  int asked = 0;
  Result<FileLock> lock =
      FileLock::Acquire(path, std::chrono::minutes(10), [] {}, [&] { return ++asked == 3; });
  EXPECT_EQ(lock.status().code(), Status::Code::kUnavailable) << lock.status().ToString();
  EXPECT_EQ(asked, 3);
  Kill(holder);
}

TEST(FileLockTest, AcquireProceedsWhenHolderExits) {
  TempDir dir;
  std::string path = dir / "app.lock";
  pid_t holder = HoldLockInChild(path);
  pid_t killer = ::fork();
  if (killer == 0) {
    ::usleep(200000);
    ::kill(holder, SIGKILL);
    ::_exit(0);
  }
  int notified = 0;
  Result<FileLock> lock = FileLock::Acquire(path, std::chrono::seconds(20), [&] { ++notified; });
  EXPECT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(notified, 1);
  ::waitpid(killer, nullptr, 0);
  ::waitpid(holder, nullptr, 0);
}

TEST(FileLockTest, NoWaitNoticeWhenFree) {
  TempDir dir;
  int notified = 0;
  EXPECT_TRUE(FileLock::Acquire(dir / "free.lock", std::chrono::seconds(1), [&] { ++notified; }).ok());
  EXPECT_EQ(notified, 0);
}

TEST(FileLockTest, HandedToAChildUntilItExits) {
  TempDir dir;
  std::string path = dir / "app.lock";
  Result<FileLock> lock = FileLock::TryAcquire(path);
  ASSERT_TRUE(lock.ok());
  UniqueFd fd = std::move(lock).value().Release();
  SpawnSpec sleeper{"/bin/sleep", {"sleep", "0.5"}, {}, -1, -1, -1, false, ""};
  sleeper.keep_fds = {fd.get()};
  Result<pid_t> child = Spawn(sleeper);
  ASSERT_TRUE(child.ok());
  // Drop our own descriptor: only the child holds the lock now.
  fd.Reset();
  EXPECT_TRUE(*FileLock::IsHeld(path));
  ASSERT_TRUE(WaitForExit(*child).ok());
  EXPECT_FALSE(*FileLock::IsHeld(path));
}

}  // namespace
}  // namespace pushgate
