#include "data-dir/data_dir.h"

#include <gtest/gtest.h>

#include "data-dir/drain.h"
#include "tests/testing/testing.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate {
namespace {

TEST(DataDirTest, EveryPathIsUnderTheRoot) {
  DataDir dirs("/var/lib/pushgate");
  EXPECT_EQ(dirs.Db(), "/var/lib/pushgate/db");
  EXPECT_EQ(dirs.Repo("web"), "/var/lib/pushgate/repos/web.git");
  EXPECT_EQ(dirs.AppLock("web"), "/var/lib/pushgate/locks/web.lock");
  EXPECT_EQ(dirs.SyncLock(), "/var/lib/pushgate/locks/.sync.lock");
  EXPECT_NE(dirs.SyncLock(), dirs.AppLock("sync"));
  EXPECT_EQ(dirs.Tmp(), "/var/lib/pushgate/tmp");
  EXPECT_EQ(dirs.Trash(), "/var/lib/pushgate/trash");
  EXPECT_EQ(dirs.Releases(), "/var/lib/pushgate/releases");
  EXPECT_EQ(dirs.DrainSwitch(), "/var/lib/pushgate/drain");
  EXPECT_EQ(dirs.Counters(), "/var/lib/pushgate/metrics");
  EXPECT_EQ(dirs.LastReaperRun(), "/var/lib/pushgate/reaper-last.json");
}

TEST(DataDirTest, OnlyAppLockFilesNameAnApp) {
  EXPECT_EQ(AppOfLockFile("web.lock"), "web");
  EXPECT_EQ(AppOfLockFile(".sync.lock"), "");
  EXPECT_EQ(AppOfLockFile(".lock"), "");
  EXPECT_EQ(AppOfLockFile("Web.lock"), "");
  EXPECT_EQ(AppOfLockFile("web.lock.tmp"), "");
  EXPECT_EQ(AppOfLockFile("../x.lock"), "");
}

TEST(DrainTest, TheSwitchIsAFileAndLocksHeldArePushesInFlight) {
  testing::TempDir dir;
  DataDir dirs(dir.path());
  EXPECT_FALSE(*IsDraining(dirs));
  ASSERT_TRUE(SetDraining(dirs, true).ok());
  EXPECT_TRUE(*IsDraining(dirs));
  ASSERT_TRUE(SetDraining(dirs, false).ok());
  EXPECT_FALSE(*IsDraining(dirs));
  ASSERT_TRUE(SetDraining(dirs, false).ok());  // idempotent
  EXPECT_EQ(*PushesInFlight(dirs), 0);  // no locks directory yet
  ASSERT_TRUE(MakeDirs(dirs.Locks(), 0750).ok());
  Result<FileLock> web = FileLock::TryAcquire(dirs.AppLock("web"));
  ASSERT_TRUE(web.ok());
  Result<FileLock> api = FileLock::TryAcquire(dirs.AppLock("api"));
  ASSERT_TRUE(api.ok());
  EXPECT_EQ(*PushesInFlight(dirs), 2);
}

}  // namespace
}  // namespace pushgate
