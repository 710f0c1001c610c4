#include "receive-hook/source_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "receive-hook/sha256.h"
#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::RunOk;
using testing::TempDir;

class SourceArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = dir_ / "work";
    std::string long_name = std::string(120, 'n') + ".txt";
    commit_ = testing::MakeRepoWithCommit(work_, {
        {"README.md", "hello\n"},
        {"src/app.py", "print('hi')\n"},
        {"bin/run", "#!/bin/sh\necho run\n"},
        {"deep/a/b/c/d/" + long_name, "long\n"},
        {"caf\xc3\xa9.txt", "unicode\n"},
        {"empty", ""},
    });
    RunOk({"chmod", "+x", work_ + "/bin/run"});
    ASSERT_EQ(::symlink("src/app.py", (work_ + "/link").c_str()), 0);
    ASSERT_EQ(::symlink("../../../etc/passwd", (work_ + "/escape").c_str()), 0);
    commit_ = testing::CommitFiles(work_, {}, "exec bit and links");
  }

  ArchiveInfo Write(const std::string& path) {
    Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit_, fd.get());
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : ArchiveInfo{};
  }

  TempDir dir_;
  std::string work_;
  std::string commit_;
};

TEST_F(SourceArchiveTest, SameCommitGivesByteIdenticalArchives) {
  ArchiveInfo a = Write(dir_ / "a.tar.gz");
  ::sleep(1);  // a wall-clock timestamp anywhere would now differ
  ArchiveInfo b = Write(dir_ / "b.tar.gz");
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(testing::ReadFile(dir_ / "a.tar.gz"), testing::ReadFile(dir_ / "b.tar.gz"));
  EXPECT_EQ(*Sha256OfFile(dir_ / "a.tar.gz"), a.sha256);
  EXPECT_EQ(a.bytes, testing::ReadFile(dir_ / "a.tar.gz").size());
  // gzip header: no mtime (bytes 4-7 zero).
  std::string bytes = testing::ReadFile(dir_ / "a.tar.gz");
  EXPECT_EQ(bytes.substr(4, 4), std::string(4, '\0'));
}

TEST_F(SourceArchiveTest, ContentsMatchTheCommitExactly) {
  Write(dir_ / "a.tar.gz");
  ASSERT_EQ(::mkdir((dir_ / "out").c_str(), 0755), 0);
  RunOk({"tar", "-xzf", dir_ / "a.tar.gz", "-C", dir_ / "out"});
  // git's own view of the same commit, checked out fresh.
  RunOk({"git", "clone", "-q", work_, dir_ / "clone"}, testing::GitEnv());
  RunOk({"rm", "-rf", dir_ / "clone/.git"});
  CapturedRun diff = testing::RunCommand({"diff", "-r", "--no-dereference", dir_ / "clone", dir_ / "out"});
  EXPECT_TRUE(diff.status.success()) << diff.output;
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "out/bin/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ASSERT_EQ(::stat((dir_ / "out/README.md").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(st.st_mtime, 1700000000);  // the commit time
  std::string listing = RunOk({"tar", "-tvzf", dir_ / "a.tar.gz"});
  EXPECT_NE(listing.find("0/0"), std::string::npos) << listing;
  EXPECT_NE(listing.find("link -> src/app.py"), std::string::npos) << listing;
}

TEST_F(SourceArchiveTest, ExtractionRoundTripsIncludingLinks) {
  Write(dir_ / "a.tar.gz");
  ASSERT_EQ(::mkdir((dir_ / "x").c_str(), 0755), 0);
  ASSERT_TRUE(ExtractSourceArchive(dir_ / "a.tar.gz", dir_ / "x").ok());
  EXPECT_EQ(testing::ReadFile(dir_ / "x/src/app.py"), "print('hi')\n");
  char target[256];
  ssize_t n = ::readlink((dir_ / "x/escape").c_str(), target, sizeof target);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, static_cast<size_t>(n)), "../../../etc/passwd");  // kept as in git, not followed
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "x/bin/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST_F(SourceArchiveTest, UnknownCommitIsAnError) {
  Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
  UniqueFd fd(::open((dir_ / "x.tar.gz").c_str(), O_WRONLY | O_CREAT, 0600));
  EXPECT_FALSE(WriteSourceArchive(*repo, std::string(40, 'a'), fd.get()).ok());
  EXPECT_FALSE(WriteSourceArchive(*repo, "not-a-commit", fd.get()).ok());
}

// Hostile archives (what a compromised or buggy build step could hand to
// pushgate-deploy) must not write outside the destination.
class HostileArchive {
 public:
  explicit HostileArchive(const std::string& path) : path_(path), a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_add_filter_gzip(a_);
    archive_write_open_filename(a_, path.c_str());
  }
  ~HostileArchive() { Close(); }
  void Add(const std::string& name, mode_t type, const std::string& data = "", const std::string& link = "") {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    if (type == AE_IFLNK) archive_entry_set_symlink(e, link.c_str());
    if (type == AE_IFREG && !link.empty()) archive_entry_set_hardlink(e, link.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a_, e);
    if (!data.empty()) archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
  }
  void Close() {
    if (a_ != nullptr) {
      archive_write_close(a_);
      archive_write_free(a_);
      a_ = nullptr;
    }
  }

 private:
  std::string path_;
  struct archive* a_;
};

TEST(ExtractSourceArchiveTest, RefusesEverythingThatEscapes) {
  struct Case {
    const char* name;
    std::function<void(HostileArchive&)> build;
  };
  std::vector<Case> cases = {
      {"dotdot", [](HostileArchive& h) { h.Add("../outside", AE_IFREG, "x"); }},
      {"nested dotdot", [](HostileArchive& h) { h.Add("a/../../outside", AE_IFREG, "x"); }},
      {"absolute", [](HostileArchive& h) { h.Add("/tmp/pushgate-absolute-escape", AE_IFREG, "x"); }},
      {"through symlink",
       [](HostileArchive& h) {
         h.Add("link", AE_IFLNK, "", "..");
         h.Add("link/outside", AE_IFREG, "x");
       }},
      {"device", [](HostileArchive& h) { h.Add("dev", AE_IFCHR); }},
      {"fifo", [](HostileArchive& h) { h.Add("fifo", AE_IFIFO); }},
      {"hardlink", [](HostileArchive& h) { h.Add("hl", AE_IFREG, "", "/etc/passwd"); }},
  };
  for (const Case& c : cases) {
    TempDir dir;
    ASSERT_EQ(::mkdir((dir / "dest").c_str(), 0755), 0);
    {
      HostileArchive h(dir / "evil.tar.gz");
      c.build(h);
    }
    Status s = ExtractSourceArchive(dir / "evil.tar.gz", dir / "dest");
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_FALSE(PathExists(dir / "outside")) << c.name;
    EXPECT_FALSE(PathExists("/tmp/pushgate-absolute-escape")) << c.name;
  }
}

TEST(ExtractSourceArchiveTest, GarbageIsAnErrorNotACrash) {
  TempDir dir;
  testing::WriteFile(dir / "junk.tar.gz", std::string(5000, 'j'));
  ASSERT_EQ(::mkdir((dir / "dest").c_str(), 0755), 0);
  EXPECT_FALSE(ExtractSourceArchive(dir / "junk.tar.gz", dir / "dest").ok());
  EXPECT_FALSE(ExtractSourceArchive(dir / "missing.tar.gz", dir / "dest").ok());
}

}  // namespace
}  // namespace pushgate
