#include "receive-hook/tree_policy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using Links = std::map<std::string, std::string, std::less<>>;

TEST(SymlinkEscapesTest, AbsoluteAndClimbingTargetsEscape) {
  Links none;
  EXPECT_TRUE(SymlinkEscapes("abs", "/etc/shadow", none));
  EXPECT_TRUE(SymlinkEscapes("up", "../../../..", none));
  EXPECT_TRUE(SymlinkEscapes("up", "..", none));
  EXPECT_TRUE(SymlinkEscapes("a/b/up", "../../..", none));
  EXPECT_TRUE(SymlinkEscapes("a/up", "x/../../../y", none));
  EXPECT_TRUE(SymlinkEscapes("root", "/", none));
}

TEST(SymlinkEscapesTest, TargetsInsideTheReleaseStay) {
  Links none;
  EXPECT_FALSE(SymlinkEscapes("entry", "lib/app.rb", none));
  EXPECT_FALSE(SymlinkEscapes("a/b/link", "../../README", none));
  EXPECT_FALSE(SymlinkEscapes("a/link", "./x/./y", none));
  EXPECT_FALSE(SymlinkEscapes("a/link", "x//y", none));
  EXPECT_FALSE(SymlinkEscapes("self", ".", none));
  EXPECT_FALSE(SymlinkEscapes("a/b/link", "../..", none));
  EXPECT_FALSE(SymlinkEscapes("dangling", "nowhere/at/all", none));
  EXPECT_FALSE(SymlinkEscapes("empty", "", none));
}

// A link through another link of the tree: the lexical reading of "s/.."
// is the root, but s names the root itself, so s/.. is the root's parent.
TEST(SymlinkEscapesTest, ChainsAreFollowedAsTheKernelWould) {
  Links links = {{"s", "."}, {"a", "s/.."}};
  EXPECT_TRUE(SymlinkEscapes("a", "s/..", links));
  links = {{"deep", "x/y/z"}, {"b", "deep/../../.."}};
  EXPECT_FALSE(SymlinkEscapes("b", "deep/../../..", links));  // x/y/z/../../.. is the root
  links = {{"deep", "x/y/z"}, {"b", "deep/../../../.."}};
  EXPECT_TRUE(SymlinkEscapes("b", "deep/../../../..", links));
  links = {{"d/out", "../../etc"}, {"via", "d/out/passwd"}};
  EXPECT_TRUE(SymlinkEscapes("via", "d/out/passwd", links));
  links = {{"d/abs", "/etc"}, {"via", "d/abs"}};
  EXPECT_TRUE(SymlinkEscapes("via", "d/abs", links));
  // A loop fails with ELOOP: nothing outside can be reached through it.
  links = {{"p", "q"}, {"q", "p"}, {"r", "p/../.."}};
  EXPECT_FALSE(SymlinkEscapes("r", "p/../..", links));
}

TreeLimits Generous() { return TreeLimits{1 << 20, 4 << 20, 8, 100, false}; }

class TreeCheckerTest : public ::testing::Test {
 protected:
  Result<TreeSummary> Check(const std::map<std::string, std::string>& files, const TreeLimits& limits,
                            const std::map<std::string, std::string>& links = {}) {
    std::string work = dir_ / ("w" + std::to_string(++n_));
    std::string commit = testing::MakeRepoWithCommit(work, files);
    if (!links.empty()) {
      for (const auto& [path, target] : links) {
        EXPECT_EQ(::symlink(target.c_str(), (work + "/" + path).c_str()), 0) << path;
      }
      commit = testing::CommitFiles(work, {}, "links");
    }
    Result<GitRepo> repo = GitRepo::Open(work + "/.git");
    EXPECT_TRUE(repo.ok());
    return CheckTree(*repo, commit, limits);
  }
  std::string Refusal(const Result<TreeSummary>& r) { return r.ok() ? "" : r.status().message(); }

  testing::TempDir dir_;
  int n_ = 0;
};

TEST_F(TreeCheckerTest, ATreeWithinTheLimitsIsSummed) {
  Result<TreeSummary> r = Check({{"a.txt", "12345"}, {"d/b.txt", "123"}}, Generous(), {{"link", "d/b.txt"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->file_bytes, 8u);
  EXPECT_EQ(r->entries, 4u);  // a.txt, d, d/b.txt, link
}

TEST_F(TreeCheckerTest, EachLimitNamesItselfAndTheValue) {
  TreeLimits limits = Generous();
  limits.max_file_size = 10;
  EXPECT_EQ(Refusal(Check({{"big.bin", std::string(11, 'x')}}, limits)),
            "big.bin is 11 bytes, more than push.max_file_size (10 bytes)");
  limits = Generous();
  limits.max_release_size = 2048;
  EXPECT_EQ(Refusal(Check({{"a", std::string(1500, 'a')}, {"b", std::string(1500, 'b')}}, limits)),
            "its files add up to more than push.max_release_size (2.0 KiB)");
  limits = Generous();
  limits.max_tree_depth = 3;
  EXPECT_TRUE(Check({{"a/b/c", "ok"}}, limits).ok());
  EXPECT_EQ(Refusal(Check({{"a/b/c/d", "deep"}}, limits)), "a/b/c/d is 4 levels deep, more than push.max_tree_depth (3)");
  limits = Generous();
  limits.max_entries = 3;
  EXPECT_EQ(Refusal(Check({{"1", ""}, {"2", ""}, {"3", ""}, {"4", ""}}, limits)),
            "it has more than push.max_entries (3) files, directories and links");
}

TEST_F(TreeCheckerTest, SymlinksOutsideTheReleaseAreRefusedUnlessAllowed) {
  std::string refusal = Refusal(Check({{"a", "1"}}, Generous(), {{"abs", "/etc/shadow"}}));
  EXPECT_NE(refusal.find("the symlink abs points outside the app (to /etc/shadow)"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("deploy.allow_external_symlinks"), std::string::npos) << refusal;
  EXPECT_NE(Refusal(Check({{"a", "1"}}, Generous(), {{"up", "../../../.."}})).find("the symlink up"),
            std::string::npos);
  EXPECT_NE(Refusal(Check({{"a", "1"}}, Generous(), {{"s", "."}, {"t", "s/.."}})).find("the symlink t"),
            std::string::npos);
  TreeLimits allowed = Generous();
  allowed.allow_external_symlinks = true;
  EXPECT_TRUE(Check({{"a", "1"}}, allowed, {{"abs", "/etc/shadow"}}).ok());
}

TEST_F(TreeCheckerTest, ControlCharactersInRefusedPathsAreNotEchoed) {
  TreeLimits limits = Generous();
  limits.max_file_size = 1;
  std::string refusal = Refusal(Check({{"bad\x1b[2Jname", "xx"}}, limits));
  EXPECT_EQ(refusal.find('\x1b'), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("bad?[2Jname"), std::string::npos) << refusal;
}

}  // namespace
}  // namespace pushgate
