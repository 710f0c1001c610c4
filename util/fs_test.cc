#include "util/fs.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(FsTest, RemoveTreeNeverFollowsSymlinks) {
  TempDir outside;
  WriteFile(outside / "precious", "keep me");
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir / "tree/a/b", 0755).ok());
  WriteFile(dir / "tree/a/b/file", "x");
  ASSERT_EQ(::symlink(outside.path().c_str(), (dir / "tree/a/link").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "precious").c_str(), (dir / "tree/filelink").c_str()), 0);
  ASSERT_TRUE(RemoveTree(dir / "tree").ok());
  EXPECT_FALSE(PathExists(dir / "tree"));
  EXPECT_EQ(testing::ReadFile(outside / "precious"), "keep me");
  EXPECT_TRUE(RemoveTree(dir / "missing").ok());
}

// Exits 0 if `root` is removed by a process allowed only 24 descriptors.
void RemoveTreeWithFewDescriptors(const std::string& root) {
  struct rlimit few;
  few.rlim_cur = few.rlim_max = 24;
  ::setrlimit(RLIMIT_NOFILE, &few);
  Status removed = RemoveTree(root);
  if (!removed.ok()) fprintf(stderr, "%s\n", removed.ToString().c_str());
  ::_exit(removed.ok() && !PathExists(root) ? 0 : 1);
}

// A pushed tree can be hundreds of levels deep (git's fsck accepts it): with
// a descriptor per level, removing it ran out of descriptors and the release
// could never be pruned.
TEST(FsTest, RemoveTreeOfADeepTreeNeedsFewDescriptors) {
  TempDir dir;
  constexpr int kDepth = 1000;  // paths far beyond PATH_MAX
  {
    UniqueFd level(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (int i = 0; i < kDepth; ++i) {
      ASSERT_EQ(::mkdirat(level.get(), "d", 0755), 0);
      UniqueFd file(::openat(level.get(), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      ASSERT_TRUE(file.valid());
      level = UniqueFd(::openat(level.get(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      ASSERT_TRUE(level.valid());
    }
  }
  std::string root = dir / "d";
  EXPECT_EXIT(RemoveTreeWithFewDescriptors(root), ::testing::ExitedWithCode(0), "");
  EXPECT_FALSE(PathExists(root));
}

TEST(FsTest, ReadSmallFileRefusesLargeFiles) {
  TempDir dir;
  WriteFile(dir / "big", std::string(2000, 'x'));
  EXPECT_EQ(ReadSmallFile(dir / "big", 1000).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ReadSmallFile(dir / "nope").status().code(), Status::Code::kNotFound);
}

TEST(FsTest, MakeDirsAndPathHelpers) {
  TempDir dir;
  EXPECT_TRUE(MakeDirs(dir / "x/y/z", 0700).ok());
  EXPECT_TRUE(MakeDirs(dir / "x/y/z", 0700).ok());
  WriteFile(dir / "file", "");
  EXPECT_FALSE(MakeDirs(dir / "file", 0700).ok());
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  Result<std::string> self = ExecutableDir();
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->front(), '/');
}

TEST(FsTest, WriteFileAtomicallyReplacesWholeAndLeavesNoTemporary) {
  testing::TempDir dir;
  std::string path = dir / "state";
  ASSERT_TRUE(WriteFileAtomically(path, "one\n", 0640).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two\n", 0640).ok());
  EXPECT_EQ(testing::ReadFile(path), "two\n");
  EXPECT_EQ(*ListDir(dir.path()), std::vector<std::string>{"state"});
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_FALSE(WriteFileAtomically(dir / "missing/state", "x", 0640).ok());
  EXPECT_EQ(*ListDir(dir.path()), std::vector<std::string>{"state"});
}

TEST(FsTest, SyncFileSystemReportsItsError) {
  testing::TempDir dir;
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(SyncFileSystem(fd.get()).ok());
  EXPECT_EQ(SyncFileSystem(-1).message(), "syncfs: Bad file descriptor");
}

}  // namespace
}  // namespace pushgate
