#include "util/fs.h"

#include <gtest/gtest.h>
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

}  // namespace
}  // namespace pushgate
