#include "gitrepo/gitrepo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "tests/testing/testing.h"
#include "util/fs.h"

namespace pushgate {
namespace {

bool Invalid(const Status& s) { return s.code() == Status::Code::kInvalidArgument; }

class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = dir_ / "work";
    commit_ = testing::MakeRepoWithCommit(work_, {
        {"README.md", "hello\n"},
        {"bin/run", "#!/bin/sh\n"},
        {"src/a/b.txt", "b\n"},
        {"src/c.txt", std::string(3000, 'c')},
        {"z", "z\n"},
    }, "First line\nsecond line\n\nbody\n");
    testing::RunOk({"chmod", "+x", work_ + "/bin/run"});
    testing::RunOk({"ln", "-s", "src/c.txt", work_ + "/link"});
    testing::RunOk({"git", "-C", work_, "add", "-A"}, testing::GitEnv());
    testing::RunOk({"git", "-C", work_, "commit", "-q", "-m", "Second\n\nbody"}, testing::GitEnv());
    commit_ = Git({"rev-parse", "HEAD"}).substr(0, 40);
  }

  std::string Git(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), {"git", "-C", work_});
    CapturedRun run = testing::RunCommand(args, testing::GitEnv(), "", stdin_data);
    EXPECT_TRUE(run.status.success()) << run.output;
    return run.output;
  }

  std::string WriteRaw(const std::string& type, const std::string& bytes) {
    return Git({"hash-object", "-t", type, "--literally", "-w", "--stdin"}, bytes).substr(0, 40);
  }

  static std::string RawId(const std::string& hex) {
    std::string raw;
    for (size_t i = 0; i < 40; i += 2) raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return raw;
  }

  std::string CommitOfTree(const std::string& tree_id) {
    return WriteRaw("commit", "tree " + tree_id + "\ncommitter a <a@b> 1700000000 +0000\n\nraw\n");
  }

  GitRepo Open() {
    Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    return std::move(repo).value();
  }

  // "path kind size" per entry, as the walk saw them.
  Result<std::vector<std::string>> Walk(const GitRepo& repo, const std::string& commit) {
    std::vector<std::string> seen;
    Status s = repo.WalkTree(commit, [&seen](const TreeEntry& e) {
      std::string line = std::string(e.path) + " " + std::to_string(static_cast<int>(e.kind)) + " " +
                         std::to_string(e.size) + " " + std::to_string(e.depth);
      if (e.kind == TreeEntry::Kind::kSymlink) line += " -> " + std::string(e.link_target);
      seen.push_back(line);
      return Status::OK();
    });
    if (!s.ok()) return s;
    return seen;
  }

  testing::TempDir dir_;
  std::string work_;
  std::string commit_;
};

TEST_F(GitRepoTest, OpeningWhatIsNotARepositoryIsNotFound) {
  EXPECT_TRUE(GitRepo::Open(dir_.path()).status().IsNotFound());
  EXPECT_TRUE(GitRepo::Open(dir_ / "nowhere").status().IsNotFound());
}

TEST_F(GitRepoTest, ResolvesACommitAndRefusesWhatIsNot) {
  GitRepo repo = Open();
  Result<CommitInfo> info = repo.ResolveCommit(commit_);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, commit_);
  EXPECT_EQ(info->summary, "Second");
  EXPECT_EQ(info->time, std::stoll(Git({"log", "-1", "--format=%ct"})));
  std::string upper = commit_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(repo.ResolveCommit(upper)->id, commit_);

  std::string tree = Git({"rev-parse", "HEAD^{tree}"}).substr(0, 40);
  EXPECT_TRUE(Invalid(repo.ResolveCommit(tree).status()));
  EXPECT_TRUE(repo.ResolveCommit(std::string(40, '0')).status().IsNotFound());
  EXPECT_TRUE(Invalid(repo.ResolveCommit("HEAD").status()));
  EXPECT_TRUE(Invalid(repo.ResolveCommit("--batch-all-objects").status()));
  // After each refusal the same GitRepo still answers.
  EXPECT_EQ(*repo.ObjectType(tree), "tree");
  EXPECT_EQ(*repo.ObjectType(commit_), "commit");
  EXPECT_TRUE(repo.ObjectType(std::string(40, 'f')).status().IsNotFound());
}

// The walk's order, sizes and link targets are git's own (`ls-tree -r -t -l`).
TEST_F(GitRepoTest, TheWalkIsGitsPreOrderWithSizes) {
  GitRepo repo = Open();
  Result<std::vector<std::string>> seen = Walk(repo, commit_);
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  std::istringstream listing(Git({"ls-tree", "-r", "-t", "-l", commit_}));
  std::vector<std::string> paths;
  std::vector<std::string> sizes;
  for (std::string line; std::getline(listing, line);) {
    paths.push_back(line.substr(line.find('\t') + 1));
    std::istringstream fields(line.substr(0, line.find('\t')));
    std::string mode, type, id, size;
    fields >> mode >> type >> id >> size;
    sizes.push_back(size == "-" ? "0" : size);
  }
  ASSERT_EQ(seen->size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ((*seen)[i].substr(0, paths[i].size() + 1), paths[i] + " ") << (*seen)[i];
    std::istringstream fields((*seen)[i]);
    std::string path, kind, size;
    fields >> path >> kind >> size;
    EXPECT_EQ(size, sizes[i]) << path;
  }
  EXPECT_NE(std::find(seen->begin(), seen->end(), "link 3 9 1 -> src/c.txt"), seen->end());
  EXPECT_NE(std::find(seen->begin(), seen->end(), "src/a/b.txt 1 2 3"), seen->end());
  EXPECT_NE(std::find(seen->begin(), seen->end(), "bin/run 2 10 2"), seen->end());
}

TEST_F(GitRepoTest, ReadsFilesByPathWithinTheirLimit) {
  GitRepo repo = Open();
  EXPECT_EQ(*repo.ReadFileAt(commit_, "src/a/b.txt", 100), "b\n");
  EXPECT_EQ(*repo.ReadFileAt(commit_, "README.md", 6), "hello\n");
  EXPECT_TRUE(Invalid(repo.ReadFileAt(commit_, "README.md", 5).status()));
  EXPECT_TRUE(Invalid(repo.ReadFileAt(commit_, "src", 100).status()));
  EXPECT_TRUE(Invalid(repo.ReadFileAt(commit_, "link", 100).status()));
  EXPECT_TRUE(repo.ReadFileAt(commit_, "nope", 100).status().IsNotFound());
  EXPECT_TRUE(repo.ReadFileAt(commit_, "README.md/x", 100).status().IsNotFound());
  EXPECT_TRUE(repo.ReadFileAt(commit_, "src//c.txt", 100).status().IsNotFound());
  EXPECT_TRUE(*repo.HasRegularFile(commit_, "bin/run"));
  EXPECT_FALSE(*repo.HasRegularFile(commit_, "link"));
  EXPECT_FALSE(*repo.HasRegularFile(commit_, "src"));
  EXPECT_FALSE(*repo.HasRegularFile(commit_, "missing/file"));
}

TEST_F(GitRepoTest, ABlobOfTheWrongSizeIsAnErrorAndTheRepoStillAnswers) {
  GitRepo repo = Open();
  std::string id = Git({"rev-parse", commit_ + ":src/c.txt"}).substr(0, 40);
  ObjectId oid;
  std::memcpy(oid.bytes, RawId(id).data(), sizeof oid.bytes);
  std::string contents;
  auto append = [&contents](std::string_view piece) {
    contents.append(piece);
    return Status::OK();
  };
  EXPECT_FALSE(repo.ReadBlob(oid, 2999, append).ok());
  ASSERT_TRUE(repo.ReadBlob(oid, 3000, append).ok());
  EXPECT_EQ(contents, std::string(3000, 'c'));
  // A reader that stops halfway leaves the next read intact.
  EXPECT_FALSE(repo.ReadBlob(oid, 3000, [](std::string_view) { return Status::IOError("stop"); }).ok());
  contents.clear();
  ASSERT_TRUE(repo.ReadBlob(oid, 3000, append).ok());
  EXPECT_EQ(contents.size(), 3000u);
}

// Trees written around git's fsck: what they name is refused with a
// message, never a crash or a read of something else.
TEST_F(GitRepoTest, HostileTreesAreRefused) {
  GitRepo repo = Open();
  std::string blob = WriteRaw("blob", "x");
  std::string tree = Git({"rev-parse", "HEAD^{tree}"}).substr(0, 40);
  auto walk = [&](const std::string& raw_tree) { return Walk(repo, CommitOfTree(WriteRaw("tree", raw_tree))).status(); };
  // A file entry naming a tree; a missing object; a mode git never writes; a truncated entry.
  EXPECT_TRUE(Invalid(walk("100644 f" + std::string(1, '\0') + RawId(tree))));
  EXPECT_TRUE(walk("100644 f" + std::string(1, '\0') + std::string(20, '\x01')).IsNotFound());
  EXPECT_TRUE(Invalid(walk("100666 f" + std::string(1, '\0') + RawId(blob))));
  EXPECT_TRUE(Invalid(walk("100644 f" + std::string(1, '\0') + RawId(blob).substr(0, 7))));
  // A directory entry naming a blob.
  EXPECT_TRUE(Invalid(walk("40000 d" + std::string(1, '\0') + RawId(blob))));
  // A symlink whose target is longer than any file system takes.
  std::string long_target = WriteRaw("blob", std::string(kMaxSymlinkTarget + 1, 'x'));
  EXPECT_TRUE(Invalid(walk("120000 l" + std::string(1, '\0') + RawId(long_target))));
  // A commit whose tree is a blob.
  EXPECT_TRUE(Invalid(Walk(repo, CommitOfTree(blob)).status()));
  // Names are reported as stored, for the policy to judge.
  Result<std::vector<std::string>> seen =
      Walk(repo, CommitOfTree(WriteRaw("tree", "100644 .." + std::string(1, '\0') + RawId(blob))));
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->front(), ".. 1 1 1");
  EXPECT_EQ(*repo.ObjectType(commit_), "commit");
}

// A tree nested thousands deep is walked without recursion: no stack overflow.
TEST_F(GitRepoTest, ADeeplyNestedTreeIsWalkedWithoutRecursion) {
  constexpr int kDepth = 3000;
  // fast-import builds the whole chain of trees in one process.
  std::string path;
  for (int i = 0; i < kDepth; ++i) path += "d/";
  std::string import = "commit refs/heads/deep\ncommitter a <a@b> 1700000000 +0000\ndata 4\ndeep\nM 100644 inline " +
                       path + "f\ndata 5\ndeep\n\n";
  Git({"fast-import", "--quiet"}, import);
  GitRepo repo = Open();
  std::string deep = Git({"rev-parse", "refs/heads/deep"}).substr(0, 40);
  int deepest = 0;
  Status s = repo.WalkTree(deep, [&deepest](const TreeEntry& e) {
    deepest = std::max(deepest, e.depth);
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(deepest, kDepth + 1);
}

TEST_F(GitRepoTest, CreatesABareRepositoryOnceWithItsConfig) {
  std::string path = dir_ / "new.git";
  ASSERT_TRUE(CreateBareRepository(path, {{"receive.fsckObjects", "true"}, {"core.hooksPath", "/x y"}}, "/usr/bin/git")
                  .ok());
  EXPECT_EQ(testing::RunOk({"git", "--git-dir", path, "config", "core.hooksPath"}), "/x y\n");
  EXPECT_EQ(testing::RunOk({"git", "--git-dir", path, "config", "core.bare"}), "true\n");
  EXPECT_EQ(testing::RunOk({"git", "--git-dir", path, "symbolic-ref", "HEAD"}), "refs/heads/main\n");
  EXPECT_TRUE(CreateBareRepository(path, {}, "/usr/bin/git").IsAlreadyExists());
  // A config git refuses leaves nothing behind.
  std::string bad = dir_ / "bad.git";
  EXPECT_FALSE(CreateBareRepository(bad, {{"not a key", "v"}}, "/usr/bin/git").ok());
  EXPECT_FALSE(PathExists(bad));
  EXPECT_EQ(testing::RunOk({"ls", "-A", dir_.path()}), "new.git\nwork\n");
}

}  // namespace
}  // namespace pushgate
