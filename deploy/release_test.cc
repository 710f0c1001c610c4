#include "deploy/release.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source-archive/source_archive.h"
#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::TempDir;

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override { work_ = dir_ / "work"; }

  // Commits `files` and archives that commit; returns the request for it.
  DeployRequest Push(const std::map<std::string, std::string>& files) {
    std::string commit = PathExists(work_) ? testing::CommitFiles(work_, files, "change")
                                           : testing::MakeRepoWithCommit(work_, files);
    std::string archive = dir_ / (commit + ".tar.gz");
    Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
    UniqueFd fd(::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    FdArchiveOutput out(fd.get());
    Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit, kFastestGzipLevel, out);
    EXPECT_TRUE(info.ok());
    return DeployRequest{dir_ / "releases", "web", commit, FromSourceArchive(archive, info.ok() ? info->sha256 : ""),
                         5, "deploy-key:ci", "0a1b2c", 1700000000, {}};
  }

  std::string Current() {
    char buf[256];
    ssize_t n = ::readlink((dir_ / "releases/web/current").c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  TempDir dir_;
  std::string work_;
};

TEST_F(ReleaseTest, FirstAndSecondDeploy) {
  DeployRequest first = Push({{"index.html", "v1"}});
  Result<DeployResult> r1 = DeployRelease(first);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->version, 1);
  EXPECT_EQ(r1->name, "v1-" + first.commit.substr(0, 7));
  EXPECT_EQ(Current(), r1->name);
  EXPECT_EQ(testing::ReadFile(dir_ / "releases/web/current/index.html"), "v1");

  Result<DeployResult> r2 = DeployRelease(Push({{"index.html", "v2"}}));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->version, 2);
  EXPECT_EQ(testing::ReadFile(dir_ / "releases/web/current/index.html"), "v2");
  EXPECT_EQ(testing::ReadFile(dir_ / "releases/web/" + r1->name + "/index.html"), "v1");
}

TEST_F(ReleaseTest, KeepsTheNewestFive) {
  std::vector<std::string> names;
  for (int i = 1; i <= 7; ++i) {
    Result<DeployResult> r = DeployRelease(Push({{"n", std::to_string(i)}}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    names.push_back(r->name);
  }
  auto releases = ListReleases(dir_ / "releases/web");
  ASSERT_TRUE(releases.ok());
  EXPECT_EQ(*releases, std::vector<std::string>(names.begin() + 2, names.end()));
  EXPECT_EQ(Current(), names.back());
  // No staging leftovers; each kept release has its record, the pruned ones
  // none: they were retired, one per deploy, and their trees wait for
  // RemoveRetiredReleases.
  Result<std::vector<std::string>> entries = ListDir(dir_ / "releases/web");
  ASSERT_TRUE(entries.ok());
  int retired = 0;
  for (const std::string& name : *entries) {
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
    if (IsRetiredRelease(name)) ++retired;
  }
  EXPECT_EQ(retired, 2);
  EXPECT_EQ(entries->size(), 5u * 2 + 1 + 2) << "five releases, five records, current, two retired";
  EXPECT_EQ(*RemoveRetiredReleases(dir_ / "releases/web"), 2);
  EXPECT_EQ(ListDir(dir_ / "releases/web")->size(), 5u * 2 + 1);
  Result<std::vector<ReleaseRecord>> records = ListReleaseRecords(dir_ / "releases/web");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  EXPECT_EQ(records->back().pusher, "deploy-key:ci");
  EXPECT_EQ(records->back().request_id, "0a1b2c");
  EXPECT_EQ(records->back().created_at, 1700000000);
  EXPECT_EQ(records->back().commit.substr(0, 7), names.back().substr(3));
  EXPECT_TRUE(records->back().current);
}

TEST_F(ReleaseTest, NeverRemovesTheCurrentReleaseEvenWhenOld) {
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(DeployRelease(Push({{"n", std::to_string(i)}})).ok());
  std::string v1 = (*ListReleases(dir_ / "releases/web"))[0];
  // An operator rolled back by pointing current at v1.
  ASSERT_EQ(::unlink((dir_ / "releases/web/current").c_str()), 0);
  ASSERT_EQ(::symlink(v1.c_str(), (dir_ / "releases/web/current").c_str()), 0);
  DeployRequest req = Push({{"n", "3"}});
  req.keep = 1;
  Result<DeployResult> deployed = DeployRelease(req);
  ASSERT_TRUE(deployed.ok());
  auto releases = *ListReleases(dir_ / "releases/web");
  // v3 is now current; v2 was pruned; v1 was pruned too once no longer current.
  EXPECT_EQ(releases.size(), 1u);
  EXPECT_EQ(deployed->retired, 2);
  EXPECT_EQ(releases.back().rfind("v3-", 0), 0u);
}

TEST_F(ReleaseTest, ChecksumMismatchDeploysNothing) {
  DeployRequest req = Push({{"n", "1"}});
  req.write_tree = FromSourceArchive(dir_ / (req.commit + ".tar.gz"), std::string(64, '0'));
  Result<DeployResult> r = DeployRelease(req);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(PathExists(dir_ / "releases/web/current"));
}

TEST_F(ReleaseTest, LeftoversOfACrashedDeployAreCleared) {
  DeployRequest req = Push({{"n", "1"}});
  std::string staging = dir_ / ("releases/web/.tmp-v1-" + req.commit.substr(0, 7));
  ASSERT_TRUE(MakeDirs(staging + "/junk", 0755).ok());
  Result<DeployResult> r = DeployRelease(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(PathExists(staging));
  EXPECT_FALSE(PathExists(r->path + "/junk"));
}

TEST_F(ReleaseTest, StagingOfAKilledDeployIsRemovedByTheNextDeploy) {
  ASSERT_TRUE(DeployRelease(Push({{"n", "1"}})).ok());
  // A deploy killed outright (SIGKILL) while unpacking v7 of some commit.
  std::string stale = dir_ / "releases/web/.tmp-v7-abcdef0";
  ASSERT_TRUE(MakeDirs(stale + "/deep/er", 0755).ok());
  testing::WriteFile(stale + "/deep/er/big", std::string(10000, 'x'));
  ASSERT_TRUE(DeployRelease(Push({{"n", "2"}})).ok());
  EXPECT_FALSE(PathExists(stale));
}

// A deploy stopped while unpacking (pushgate-deploy signalled on a build
// timeout or a cancelled push) leaves nothing behind and changes nothing.
TEST_F(ReleaseTest, AStoppedDeployLeavesNothingAndChangesNothing) {
  Result<DeployResult> first = DeployRelease(Push({{"n", "1"}}));
  ASSERT_TRUE(first.ok());
  std::map<std::string, std::string> files;
  for (int i = 0; i < 50; ++i) files["f" + std::to_string(i)] = std::string(1000, 'a');
  DeployRequest req = Push(files);
  int calls = 0;
  req.checkpoint = [&]() -> Status { return ++calls > 20 ? Status::Unavailable("stopped by a signal") : Status::OK(); };
  Result<DeployResult> stopped = DeployRelease(req);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().message(), "stopped by a signal");
  EXPECT_EQ(Current(), first->name);
  EXPECT_EQ(*ListDir(dir_ / "releases/web"), (std::vector<std::string>{"current", first->name, first->name + ".release"}));
}

// The tree is put on disk after it is written and before anything records
// it: the hook's answer to the pusher then means the release survives a
// power loss.
TEST_F(ReleaseTest, TheTreeReachesTheDiskBeforeItIsRecorded) {
  DeployRequest req = Push({{"index.html", "v1"}, {"static/app.js", "js"}});
  int calls = 0;
  req.make_durable = [&](int release_dir_fd) -> Status {
    ++calls;
    struct stat st;
    EXPECT_EQ(::fstatat(release_dir_fd, "static/app.js", &st, 0), 0) << "the whole tree is written first";
    EXPECT_EQ(*ListDir(dir_ / "releases/web"), (std::vector<std::string>{".tmp-v1-" + req.commit.substr(0, 7)}))
        << "nothing recorded yet";
    return SyncFileSystem(release_dir_fd);
  };
  Result<DeployResult> deployed = DeployRelease(req);
  ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Current(), deployed->name);
}

// The disk fails (or fills) while the tree is flushed: the deploy fails with
// the reason, records nothing and leaves `current` where it was.
TEST_F(ReleaseTest, AReleaseThatCannotReachTheDiskIsNotDeployed) {
  Result<DeployResult> first = DeployRelease(Push({{"n", "1"}}));
  ASSERT_TRUE(first.ok());
  DeployRequest req = Push({{"n", "2"}});
  req.make_durable = [](int) { return Status::FromErrno(EIO, "syncfs"); };
  Result<DeployResult> failed = DeployRelease(req);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "write the release to disk: syncfs: Input/output error");
  EXPECT_EQ(Current(), first->name);
  EXPECT_EQ(*ListDir(dir_ / "releases/web"),
            (std::vector<std::string>{"current", first->name, first->name + ".release"}));
}

// Retiring an old release fails (here it is a mount point, which rename(2)
// refuses): the deploy fails before `current` moves, and the new release is
// gone again.
TEST_F(ReleaseTest, APruneFailureLeavesCurrentWhereItWas) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  DeployRequest first = Push({{"n", "1"}});
  first.keep = 1;
  Result<DeployResult> v1 = DeployRelease(first);
  ASSERT_TRUE(v1.ok());
  Result<DeployResult> v2 = DeployRelease(Push({{"n", "2"}}));
  ASSERT_TRUE(v2.ok());
  testing::RunOk({"mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", v1->path});
  DeployRequest third = Push({{"n", "3"}});
  third.keep = 1;
  Result<DeployResult> v3 = DeployRelease(third);
  testing::RunCommand({"umount", "-l", v1->path});
  ASSERT_FALSE(v3.ok());
  EXPECT_NE(v3.status().message().find("retire the old release " + v1->name), std::string::npos)
      << v3.status().ToString();
  EXPECT_EQ(Current(), v2->name);
  EXPECT_EQ(testing::ReadFile(dir_ / "releases/web/current/n"), "2");
  EXPECT_FALSE(PathExists(dir_ / ("releases/web/v3-" + third.commit.substr(0, 7))));
}

// The retired trees are deleted by a detached child: the deploy returns
// before they go, and they go without anyone waiting for the child.
TEST_F(ReleaseTest, RetiredReleasesAreDeletedInTheBackground) {
  DeployRequest first = Push({{"n", "1"}});
  first.keep = 1;
  Result<DeployResult> v1 = DeployRelease(first);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->retired, 0);
  EXPECT_TRUE(StartRemovingRetiredReleases(first).ok()) << "nothing to do";
  DeployRequest second = Push({{"n", "2"}});
  second.keep = 1;
  Result<DeployResult> v2 = DeployRelease(second);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->retired, 1);
  auto entries = [&] { return *ListDir(dir_ / "releases/web"); };
  std::vector<std::string> settled = {"current", v2->name, v2->name + ".release"};
  EXPECT_NE(entries(), settled) << "the retired tree is still there until it is deleted";
  ASSERT_TRUE(StartRemovingRetiredReleases(second).ok());
  for (int i = 0; i < 3000 && entries() != settled; ++i) ::usleep(10000);
  EXPECT_EQ(entries(), settled);

  // A release an earlier deploy retired before it failed goes with the next
  // deploy, though that one retires nothing.
  ASSERT_TRUE(MakeDirs(dir_ / "releases/web/.retired-v1-0000000.0a0b0c0d/lib", 0755).ok());
  DeployRequest third = Push({{"n", "3"}});
  Result<DeployResult> v3 = DeployRelease(third);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->retired, 0);
  ASSERT_TRUE(StartRemovingRetiredReleases(third).ok());
  settled = {"current", v2->name, v2->name + ".release", v3->name, v3->name + ".release"};
  for (int i = 0; i < 3000 && entries() != settled; ++i) ::usleep(10000);
  EXPECT_EQ(entries(), settled);
}

TEST_F(ReleaseTest, RefusesBadInput) {
  DeployRequest req = Push({{"n", "1"}});
  DeployRequest bad = req;
  bad.app = "../etc";
  EXPECT_FALSE(DeployRelease(bad).ok());
  bad = req;
  bad.commit = "HEAD";
  EXPECT_FALSE(DeployRelease(bad).ok());
  bad = req;
  bad.write_tree = {};
  EXPECT_FALSE(DeployRelease(bad).ok());
  EXPECT_FALSE(PathExists(dir_ / "etc"));
}

}  // namespace
}  // namespace pushgate
