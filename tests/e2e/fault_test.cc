// End-to-end faults: a full disk under data_dir (a small tmpfs) during a
// push and during a key sync. Each ends in a clear error, corrupts nothing,
// and the gateway recovers once space returns.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <random>

#include "tests/e2e/gateway.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/synthetic_keys.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

// Fills the file system holding `dir` up to `leave_kb` free with a file
// owned by root; returns its path.
std::string FillDisk(const std::string& dir, uint64_t leave_kb) {
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return "";
  uint64_t free_kb = fs.f_bavail * fs.f_frsize / 1024;
  std::string filler = dir + "/filler";
  UniqueFd fd(::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  std::string block(1024, 'x');
  for (uint64_t kb = 0; kb + leave_kb < free_kb; ++kb) {
    if (::write(fd.get(), block.data(), block.size()) != static_cast<ssize_t>(block.size())) break;
  }
  return filler;
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(7);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(DiskFullTest, PushIntoAFullDiskFailsClearlyAndRecovers) {
  TempDir keys, work;
  GatewayOptions options;
  options.data_dir_tmpfs_mb = 24;
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  ASSERT_NE(gateway, nullptr);
  TestKey alice = gateway->AddUserWithKey("alice", keys.path());
  gateway->AdminOk({"app", "create", "full", "--member", "alice"});
  std::string dir = work / "full";
  std::string first = MakeRepoWithCommit(dir, {{"README", "small\n"}});
  ASSERT_TRUE(gateway->Git(alice, {"push", gateway->Url("full"), "main"}, dir).status.success());

  // 4 MB that does not compress, into a disk with about 1 MB left.
  std::string filler = FillDisk(gateway->data_dir(), 1024);
  ASSERT_FALSE(filler.empty());
  CommitFiles(dir, {{"blob.bin", RandomBytes(4 << 20)}}, "big");
  CapturedRun full = gateway->Git(alice, {"push", gateway->Url("full"), "main"}, dir);
  EXPECT_FALSE(full.status.success());
  EXPECT_TRUE(full.output.find("No space left on device") != std::string::npos ||
              full.output.find("the gateway ran out of disk space") != std::string::npos)
      << full.output;
  EXPECT_EQ(gateway->RemoteRef(alice, "full"), first) << "a failed push moved the branch";
  // No lock is left (waiting out a server side still exiting).
  CapturedRun drained = gateway->Admin({"drain", "on", "--wait", "60s"});
  EXPECT_NE(drained.output.find("0 pushes in flight"), std::string::npos) << drained.output;
  gateway->AdminOk({"drain", "off"});
  CapturedRun status = gateway->Admin({"status"});
  EXPECT_NE(status.output.find("disk"), std::string::npos) << status.output;

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  CapturedRun retry = gateway->Git(alice, {"push", gateway->Url("full"), "main"}, dir);
  EXPECT_TRUE(retry.status.success()) << retry.output;
  EXPECT_NE(retry.output.find("full deployed: v2"), std::string::npos) << retry.output;
  CapturedRun fsck = gateway->FsckRepo("full");
  EXPECT_TRUE(fsck.status.success()) << fsck.output;
}

// An 8-file tree of 16 MiB zero blobs is a pack of a few KB and a release
// of 128 MiB: it is refused before anything is written, with the disk-space
// message, instead of failing halfway with "Write failed".
TEST(DiskFullTest, AReleaseLargerThanTheFreeSpaceIsRefusedUpFront) {
  TempDir keys, work;
  GatewayOptions options;
  options.data_dir_tmpfs_mb = 64;
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  ASSERT_NE(gateway, nullptr);
  TestKey alice = gateway->AddUserWithKey("alice", keys.path());
  gateway->AdminOk({"app", "create", "zeros", "--member", "alice"});
  std::string dir = work / "zeros";
  MakeRepoWithCommit(dir, {{"README", "small\n"}});
  for (int i = 0; i < 8; ++i) RunOk({"truncate", "-s", "16M", dir + "/zero" + std::to_string(i)});
  CommitFiles(dir, {}, "zeros");
  CapturedRun push = gateway->Git(alice, {"push", gateway->Url("zeros"), "main"}, dir);
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("the gateway does not have enough disk space for this release"), std::string::npos)
      << push.output;
  EXPECT_EQ(push.output.find("Write failed"), std::string::npos) << push.output;
  EXPECT_EQ(gateway->RemoteRef(alice, "zeros"), "");
  Result<std::vector<std::string>> tmp = ListDir(gateway->data_dir() + "/tmp");
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();
  EXPECT_TRUE(tmp->empty());
}

// A sync that runs out of space fails with a clear error and leaves the
// cache as it was (LMDB commits all or nothing), both when the disk is full
// before it starts and when it fills up halfway through a large sync; the
// next sync after space returns catches up.
TEST(DiskFullTest, SyncIntoAFullDiskFailsCleanlyAndCatchesUp) {
  TempDir keys, work;
  FakeController fake;
  TestKey alice = MakeKey(keys.path(), "alice");
  fake.AddKey("alice", alice.public_line);
  fake.AddApp("web", {"alice"});
  fake.Start();
  GatewayOptions options;
  options.controller_url = fake.url();
  options.data_dir_tmpfs_mb = 64;
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  ASSERT_NE(gateway, nullptr);
  std::string sync = gateway->prefix() + "/libexec/pushgate/pushgate-sync";
  auto run_sync = [&] {
    return RunCommand({"runuser", "-u", Gateway::kGitUser, "--", sync, "--config", gateway->config_path(), "--once"});
  };
  CapturedRun warm = run_sync();
  ASSERT_TRUE(warm.status.success()) << warm.output;
  std::string dir = work / "web";
  MakeRepoWithCommit(dir, {{"index.html", "hi\n"}});
  ASSERT_TRUE(gateway->Git(alice, {"push", gateway->Url("web"), "main"}, dir).status.success());

  // About 21 MB of keys for the cache.
  for (uint64_t i = 0; i < 60000; ++i) {
    fake.AddKey("bulk", SyntheticKeyLine(SyntheticKeyType::kEd25519, 1000 + i, ""));
  }
  // Full before the sync starts: refused up front.
  std::string filler = FillDisk(gateway->data_dir(), 256);
  CapturedRun full = run_sync();
  EXPECT_EQ(full.status.code, 1) << full.output;
  EXPECT_NE(full.output.find("is full ("), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("the key cache is unchanged"), std::string::npos) << full.output;
  ASSERT_EQ(::unlink(filler.c_str()), 0);

  // Room to start, not to finish: the cache fills the disk halfway.
  filler = FillDisk(gateway->data_dir(), 12 << 10);
  CapturedRun halfway = run_sync();
  EXPECT_EQ(halfway.status.code, 1) << halfway.output;
  EXPECT_NE(halfway.output.find("the file system under data_dir is full"), std::string::npos) << halfway.output;
  // The cache still serves what it had: the key works, the app is served.
  CapturedRun ls = gateway->Git(alice, {"ls-remote", gateway->Url("web")}, "/");
  EXPECT_TRUE(ls.status.success()) << ls.output;

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  CapturedRun recovered = run_sync();
  EXPECT_TRUE(recovered.status.success()) << recovered.output;
  EXPECT_NE(recovered.output.find("synced to revision " + std::to_string(fake.revision())), std::string::npos)
      << recovered.output;
}

}  // namespace
}  // namespace pushgate::testing
