#include "releases/releases.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

class ReleasesTest : public ::testing::Test {
 protected:
  // A release as the bundled deploy leaves it: tree, record, maybe current.
  void AddRelease(int version, char hex, const std::string& pusher, const std::string& request_id) {
    std::string commit(40, hex);
    ReleaseRecord record{version, "v" + std::to_string(version) + "-" + commit.substr(0, 7), commit, pusher,
                         1700000000 + version, request_id, "", false};
    ASSERT_TRUE(MakeDirs(app_ + "/" + record.name, 0755).ok());
    ASSERT_TRUE(WriteReleaseRecord(app_, record).ok());
    ASSERT_TRUE(SwitchCurrent(app_, record.name).ok());
  }
  std::vector<int> Versions() {
    std::vector<int> out;
    std::vector<ReleaseRecord> releases = *ListReleaseRecords(app_);
    for (const ReleaseRecord& r : releases) out.push_back(r.version);
    return out;
  }

  TempDir dir_;
  std::string app_ = dir_ / "web";
};

TEST_F(ReleasesTest, ReleaseNamesAreExact) {
  EXPECT_EQ(ReleaseVersion("v3-1a2b3c4"), 3);
  EXPECT_EQ(ReleaseVersion("v12-abcdef0"), 12);
  for (const char* bad : {"v3-1a2b3c4.release", "v3-1A2B3C4", "v-1a2b3c4", "v3-1a2b3c", "x3-1a2b3c4", "current",
                          "builds", ".tmp-v3-1a2b3c4", "v3x-1a2b3c4"}) {
    EXPECT_EQ(ReleaseVersion(bad), 0) << bad;
  }
}

TEST_F(ReleasesTest, RecordsListWithTheCurrentOneMarked) {
  EXPECT_TRUE(ListReleaseRecords(app_)->empty()) << "no directory yet: no releases";
  AddRelease(1, 'a', "alice", "00aa");
  AddRelease(2, 'b', "deploy-key:ci", "00bb");
  ASSERT_TRUE(MakeDirs(app_ + "/v3-ccccccc", 0755).ok());  // deployed before records were kept
  Result<std::vector<ReleaseRecord>> releases = ListReleaseRecords(app_);
  ASSERT_TRUE(releases.ok()) << releases.status().ToString();
  ASSERT_EQ(releases->size(), 3u);
  EXPECT_EQ((*releases)[0].pusher, "alice");
  EXPECT_EQ((*releases)[0].commit, std::string(40, 'a'));
  EXPECT_EQ((*releases)[1].pusher, "deploy-key:ci");
  EXPECT_EQ((*releases)[1].created_at, 1700000002);
  EXPECT_TRUE((*releases)[1].current);
  EXPECT_FALSE((*releases)[0].current);
  EXPECT_EQ((*releases)[2].version, 3);
  EXPECT_TRUE((*releases)[2].pusher.empty());
}

// A record is shown to pushers and names a log file: anything odd in one
// is Corruption, never data.
TEST_F(ReleasesTest, AMalformedRecordIsCorruption) {
  AddRelease(1, 'a', "alice", "00aa");
  for (const char* text : {"version=2\n", "commit=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n", "pusher=a b\n",
                           "request_id=../../etc/passwd\n", "created_at=-1\n", "version=1", "garbage\n"}) {
    WriteFile(app_ + "/v1-aaaaaaa.release", text);
    EXPECT_EQ(ListReleaseRecords(app_).status().code(), Status::Code::kCorruption) << text;
  }
  WriteFile(app_ + "/v1-aaaaaaa.release", "version=1\nfuture_field=x\n");
  EXPECT_TRUE(ListReleaseRecords(app_).ok()) << "fields of a newer pushgate are ignored";
  ReleaseRecord bad{1, "v1-aaaaaaa", std::string(40, 'a'), "$(id)", 0, "", "", false};
  EXPECT_EQ(WriteReleaseRecord(app_, bad).code(), Status::Code::kInvalidArgument);
}

TEST_F(ReleasesTest, RollBackGoesToThePreviousOrTheNamedRelease) {
  AddRelease(1, 'a', "alice", "00aa");
  AddRelease(2, 'b', "alice", "00bb");
  AddRelease(3, 'c', "bob", "00cc");
  Result<ReleaseRecord> back = RollBack(app_, std::nullopt, "bob");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "v2-bbbbbbb");
  EXPECT_EQ(*CurrentRelease(app_), "v2-bbbbbbb");
  std::vector<ReleaseRecord> after = *ListReleaseRecords(app_);
  EXPECT_EQ(after[1].rolled_back_by, "bob");
  EXPECT_EQ(after[1].pusher, "alice") << "who pushed it is kept";

  EXPECT_EQ(RollBack(app_, 3, "alice")->name, "v3-ccccccc") << "forward again, by version";
  Status current = RollBack(app_, 3, "alice").status();
  EXPECT_EQ(current.message(), "v3 is the current release");
  Status missing = RollBack(app_, 9, "alice").status();
  EXPECT_EQ(missing.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(missing.message(), "release v9 is not kept; the releases kept are v1, v2, v3");
  ASSERT_TRUE(RollBack(app_, 1, "alice").ok());
  Status oldest = RollBack(app_, std::nullopt, "alice").status();
  EXPECT_NE(oldest.message().find("there is no release before the current one"), std::string::npos);
  EXPECT_EQ(*CurrentRelease(app_), "v1-aaaaaaa");
  EXPECT_EQ(Versions(), (std::vector<int>{1, 2, 3}));
}

TEST_F(ReleasesTest, TheListIsNewestFirstWithTheCurrentOneMarked) {
  AddRelease(1, 'a', "alice", "00aa");
  AddRelease(2, 'b', "deploy-key:ci", "00bb");
  ASSERT_TRUE(RollBack(app_, 1, "bob").ok());
  ASSERT_TRUE(MakeDirs(app_ + "/v3-ccccccc", 0755).ok());
  EXPECT_EQ(FormatReleaseList(*ListReleaseRecords(app_)),
            "  v3  ccccccc  --------------------  -\n"
            "  v2  bbbbbbb  2023-11-14T22:13:22Z  deploy-key:ci\n"
            "* v1  aaaaaaa  2023-11-14T22:13:21Z  alice  (rolled back to by bob)\n");
}

TEST_F(ReleasesTest, RemoveReleaseTakesItsRecord) {
  AddRelease(1, 'a', "alice", "00aa");
  ASSERT_TRUE(RemoveRelease(app_, "v1-aaaaaaa").ok());
  EXPECT_FALSE(PathExists(app_ + "/v1-aaaaaaa"));
  EXPECT_FALSE(PathExists(app_ + "/v1-aaaaaaa.release"));
}

// A retired release leaves every listing at once; its tree goes later,
// unless a deleter at work holds its entry's lock.
TEST_F(ReleasesTest, RetiredReleasesLeaveAtOnceAndAreDeletedUnlessLocked) {
  AddRelease(1, 'a', "alice", "00aa");
  AddRelease(2, 'b', "alice", "00bb");
  AddRelease(3, 'c', "alice", "00cc");
  WriteFile(app_ + "/v1-aaaaaaa/index.html", "one");
  ASSERT_TRUE(RetireRelease(app_, "v1-aaaaaaa").ok());
  ASSERT_TRUE(RetireRelease(app_, "v2-bbbbbbb").ok());
  EXPECT_EQ(*ListReleases(app_), std::vector<std::string>{"v3-ccccccc"});
  EXPECT_EQ(Versions(), std::vector<int>{3});
  std::vector<std::string> retired;
  std::vector<std::string> entries = *ListDir(app_);
  for (const std::string& name : entries) {
    if (IsRetiredRelease(name)) retired.push_back(name);
  }
  ASSERT_EQ(retired.size(), 2u);
  EXPECT_EQ(retired[0].rfind(".retired-v1-aaaaaaa.", 0), 0u) << retired[0];
  EXPECT_EQ(ReadFile(app_ + "/" + retired[0] + "/index.html"), "one");
  EXPECT_EQ(RetireRelease(app_, "v9-9999999").code(), Status::Code::kNotFound);

  UniqueFd busy(::open((app_ + "/" + retired[1]).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(busy.get(), LOCK_EX | LOCK_NB), 0);
  Result<int> removed = RemoveRetiredReleases(app_);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(PathExists(app_ + "/" + retired[0]));
  EXPECT_TRUE(PathExists(app_ + "/" + retired[1])) << "another deleter holds it";
  busy.Reset();
  EXPECT_EQ(*RemoveRetiredReleases(app_), 1);
  EXPECT_EQ(*ListDir(app_), (std::vector<std::string>{"current", "v3-ccccccc", "v3-ccccccc.release"}));
  EXPECT_EQ(*RemoveRetiredReleases(dir_ / "never-deployed"), 0);
}

TEST_F(ReleasesTest, BuildLogsFollowTheirReleasesAndTheLatestBuild) {
  EXPECT_EQ(ReadBuildLog(app_, std::nullopt).status().message(), "no build has run yet");
  AddRelease(1, 'a', "alice", "00aa");
  ASSERT_TRUE(SaveBuildLog(app_, "00aa", "log one\n").ok());
  AddRelease(2, 'b', "alice", "00bb");
  ASSERT_TRUE(SaveBuildLog(app_, "00bb", "log two\n").ok());
  EXPECT_EQ(*ReadBuildLog(app_, std::nullopt), "log two\n");
  EXPECT_EQ(*ReadBuildLog(app_, 1), "log one\n");
  // A failed build: no release, but it is the latest log until the next.
  ASSERT_TRUE(SaveBuildLog(app_, "00ff", "failed\n").ok());
  EXPECT_EQ(*ReadBuildLog(app_, std::nullopt), "failed\n");
  ASSERT_TRUE(SaveBuildLog(app_, "00ee", "failed again\n").ok());
  EXPECT_FALSE(PathExists(app_ + "/builds/00ff.log")) << "an old failed build's log is not kept";
  // Its release removed, a log goes with the next save.
  ASSERT_TRUE(RemoveRelease(app_, "v1-aaaaaaa").ok());
  ASSERT_TRUE(SaveBuildLog(app_, "00dd", "x\n").ok());
  EXPECT_EQ(*ListDir(app_ + "/builds"), (std::vector<std::string>{"00bb.log", "00dd.log", "last"}));
  EXPECT_EQ(ReadBuildLog(app_, 1).status().message(), "release v1 is not kept; the releases kept are v2");
  EXPECT_EQ(SaveBuildLog(app_, "../x", "x").code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(RemoveTree(app_ + "/builds/00bb.log").ok());
  EXPECT_EQ(ReadBuildLog(app_, 2).status().message(), "the build log of v2 is not kept");
}

TEST_F(ReleasesTest, ALongLogKeepsItsTail) {
  BuildLogTail tail;
  std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 40; ++i) tail.Append(chunk);
  tail.Append("the end\n");
  std::string text = tail.Text();
  EXPECT_LT(text.size(), BuildLogTail::kMaxBytes + 200);
  EXPECT_EQ(text.substr(text.size() - 8), "the end\n");
  uint64_t cut = 40 * chunk.size() + 8 - BuildLogTail::kMaxBytes;
  EXPECT_EQ(text.rfind("[pushgate: the first " + std::to_string(cut) + " bytes of this log were cut", 0), 0u) << text.substr(0, 100);
  BuildLogTail small;
  small.Append("short\n");
  EXPECT_EQ(small.Text(), "short\n");
}

}  // namespace
}  // namespace pushgate
