#include "deploy/tree_export.h"

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

#include "source-archive/source_archive.h"
#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::RunOk;
using testing::TempDir;

// Every entry under `root`: type, permission bits, mtime and contents or
// link target, by path. Two trees that give the same map are the same release.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  static std::map<std::string, std::string>* out;
  static size_t prefix;
  std::map<std::string, std::string> entries;
  out = &entries;
  prefix = root.size();
  auto visit = [](const char* path, const struct stat* st, int, struct FTW*) -> int {
    std::string rel = std::string(path).substr(prefix);
    if (rel.empty()) return 0;
    std::string what = std::to_string(st->st_mode & 07777) + " t=" + std::to_string(st->st_mtime) + " ";
    if (S_ISDIR(st->st_mode)) {
      what = "dir " + what;
    } else if (S_ISLNK(st->st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(path, target, sizeof target);
      what = "link " + what + std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
    } else {
      Result<std::string> contents = ReadSmallFile(path, 64 << 20);
      what = "file " + what + (contents.ok() ? *contents : "unreadable");
    }
    (*out)[rel] = what;
    return 0;
  };
  EXPECT_EQ(::nftw(root.c_str(), visit, 16, FTW_PHYS), 0);
  return entries;
}

class TreeExportTest : public ::testing::Test {
 protected:
  void SetUp() override { work_ = dir_ / "work"; }

  Status Export(const std::string& commit, const std::string& dest, const std::function<Status()>& checkpoint = {}) {
    Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
    if (!repo.ok()) return repo.status();
    if (Status made = MakeDirs(dest, 0755); !made.ok()) return made;
    return ExportTree(*repo, commit, dest, checkpoint);
  }

  // An object written as it is, without git's checks: what a repository
  // holds only if fsck were off or bypassed.
  std::string WriteRawObject(const std::string& type, const std::string& bytes) {
    CapturedRun run = testing::RunCommand(
        {"git", "-C", work_, "hash-object", "-t", type, "--literally", "-w", "--stdin"}, testing::GitEnv(), "", bytes);
    EXPECT_TRUE(run.status.success()) << run.output;
    return run.output.substr(0, 40);
  }
  static std::string RawId(const std::string& hex) {
    std::string raw;
    for (size_t i = 0; i < 40; i += 2) raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return raw;
  }
  // A commit of a tree made of raw entries "MODE NAME" -> object id.
  std::string CommitRawTree(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string tree;
    for (const auto& [mode_name, id] : entries) tree += mode_name + std::string(1, '\0') + RawId(id);
    std::string tree_id = WriteRawObject("tree", tree);
    return WriteRawObject("commit", "tree " + tree_id +
                                        "\nauthor a <a@b> 1700000000 +0000\ncommitter a <a@b> 1700000000 +0000\n\nraw\n");
  }

  TempDir dir_;
  std::string work_;
};

// The release the hook writes is the release pushgate-deploy unpacks from
// the commit's archive: names, modes, links, empty files and directories,
// a submodule's empty directory, a file large enough to be streamed through
// git cat-file, and every mtime (the commit's time).
TEST_F(TreeExportTest, TheTreeIsExactlyWhatTheArchiveUnpacksTo) {
  std::string commit = testing::MakeRepoWithCommit(work_, {
      {"README.md", "hello\n"},
      {"bin/run", "#!/bin/sh\necho run\n"},
      {"deep/a/b/c/d/" + std::string(120, 'n') + ".txt", "long\n"},
      {"caf\xc3\xa9.txt", "unicode\n"},
      {"empty", ""},
      {"z/last", "z\n"},
  });
  RunOk({"chmod", "+x", work_ + "/bin/run"});
  ASSERT_EQ(::symlink("README.md", (work_ + "/link").c_str()), 0);
  ASSERT_EQ(::symlink("a/b", (work_ + "/deep/dirlink").c_str()), 0);
  RunOk({"truncate", "-s", "6M", work_ + "/big.bin"});
  commit = testing::CommitFiles(work_, {}, "links, exec bit, a big file");
  RunOk({"git", "-C", work_, "update-index", "--add", "--cacheinfo", "160000," + commit + ",vendor/sub"},
        testing::GitEnv());
  RunOk({"git", "-C", work_, "commit", "-q", "-m", "a submodule"}, testing::GitEnv());
  commit = RunOk({"git", "-C", work_, "rev-parse", "HEAD"}).substr(0, 40);

  ASSERT_TRUE(Export(commit, dir_ / "exported").ok());
  Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
  ASSERT_TRUE(repo.ok());
  std::string archive = dir_ / "source.tar.gz";
  UniqueFd fd(::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  FdArchiveOutput out(fd.get());
  ASSERT_TRUE(WriteSourceArchive(*repo, commit, kFastestGzipLevel, out).ok());
  ASSERT_TRUE(MakeDirs(dir_ / "unpacked", 0755).ok());
  ASSERT_TRUE(ExtractSourceArchive(archive, dir_ / "unpacked").ok());

  std::map<std::string, std::string> exported = Snapshot(dir_ / "exported");
  EXPECT_EQ(exported, Snapshot(dir_ / "unpacked"));
  EXPECT_EQ(exported.size(), 18u);
  EXPECT_EQ(exported["/bin/run"].substr(0, 8), "file 493") << "0755";
  EXPECT_EQ(exported["/README.md"].substr(0, 8), "file 420") << "0644";
  EXPECT_EQ(exported["/vendor/sub"].substr(0, 7), "dir 493");
  EXPECT_EQ(exported["/link"].substr(exported["/link"].size() - 9), "README.md");
  EXPECT_EQ(exported["/big.bin"].size(), (6u << 20) + 22);
}

// The umask of the process never decides a release's modes.
TEST_F(TreeExportTest, ModesDoNotDependOnTheUmask) {
  std::string commit = testing::MakeRepoWithCommit(work_, {{"d/f", "x"}});
  mode_t old = ::umask(077);
  Status exported = Export(commit, dir_ / "out");
  ::umask(old);
  ASSERT_TRUE(exported.ok()) << exported.ToString();
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "out/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(::stat((dir_ / "out/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(TreeExportTest, ACheckpointErrorStopsTheExport) {
  std::map<std::string, std::string> files;
  for (int i = 0; i < 30; ++i) files["f" + std::to_string(i)] = "x";
  std::string commit = testing::MakeRepoWithCommit(work_, files);
  int calls = 0;
  Status stopped = Export(commit, dir_ / "out", [&]() -> Status {
    return ++calls > 10 ? Status::Unavailable("the deploy was stopped") : Status::OK();
  });
  EXPECT_EQ(stopped.message(), "the deploy was stopped");
  EXPECT_LT(ListDir(dir_ / "out")->size(), 30u);
}

// Trees git's fsck refuses, written around it: ".." as a name, a name that
// appears twice (a link to outside, then a directory of the same name, so
// that its file would land through the link), a name with a slash. Each is
// refused, and nothing is written outside the destination.
TEST_F(TreeExportTest, HostileTreesAreRefusedAndWriteNothingOutside) {
  testing::MakeRepoWithCommit(work_, {{"README", "x"}});
  std::string outside = dir_ / "outside";
  ASSERT_TRUE(MakeDirs(outside, 0755).ok());
  std::string blob = WriteRawObject("blob", "payload\n");
  std::string link = WriteRawObject("blob", outside);
  std::string inner = WriteRawObject("tree", "100644 planted" + std::string(1, '\0') + RawId(blob));

  std::string dotdot = CommitRawTree({{"40000 ..", inner}});
  Status s = Export(dotdot, dir_ / "a/release");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(PathExists(dir_ / "a/planted"));

  std::string twice = CommitRawTree({{"120000 d", link}, {"40000 d", inner}});
  s = Export(twice, dir_ / "b");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(PathExists(outside + "/planted"));

  std::string slash = CommitRawTree({{"100644 x/../../planted", blob}});
  s = Export(slash, dir_ / "c/release");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(PathExists(dir_ / "planted"));
  EXPECT_FALSE(PathExists(dir_ / "c/planted"));
}

}  // namespace
}  // namespace pushgate
