#include "source-archive/source_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "source-archive/sha256.h"
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

  ArchiveInfo Write(const std::string& path, int gzip_level = kFastestGzipLevel) {
    Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    FdArchiveOutput out(fd.get());
    Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit_, gzip_level, out);
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

// build.source_compression trades time for size; either level unpacks to
// the same tree, and each is deterministic.
TEST_F(SourceArchiveTest, TheGzipLevelChangesOnlyTheSize) {
  commit_ = testing::CommitFiles(work_, {{"text.txt", std::string(200000, 'a') + "\n"}}, "compressible");
  ArchiveInfo fast = Write(dir_ / "fast.tar.gz", kFastestGzipLevel);
  ArchiveInfo small = Write(dir_ / "small.tar.gz", kSmallestGzipLevel);
  EXPECT_LT(small.bytes, fast.bytes);
  EXPECT_EQ(Write(dir_ / "small2.tar.gz", kSmallestGzipLevel).sha256, small.sha256);
  ASSERT_TRUE(MakeDirs(dir_ / "fast", 0755).ok());
  ASSERT_TRUE(MakeDirs(dir_ / "small", 0755).ok());
  ASSERT_TRUE(ExtractSourceArchive(dir_ / "fast.tar.gz", dir_ / "fast").ok());
  ASSERT_TRUE(ExtractSourceArchive(dir_ / "small.tar.gz", dir_ / "small").ok());
  EXPECT_TRUE(testing::RunCommand({"diff", "-r", "--no-dereference", dir_ / "fast", dir_ / "small"}).status.success());
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
  FdArchiveOutput out(fd.get());
  EXPECT_FALSE(WriteSourceArchive(*repo, std::string(40, 'a'), kFastestGzipLevel, out).ok());
  EXPECT_FALSE(WriteSourceArchive(*repo, "not-a-commit", kFastestGzipLevel, out).ok());
}

// An output that takes `fail_at - 1` writes and refuses the rest, counting
// what it was offered.
class FailingOutput : public ArchiveOutput {
 public:
  explicit FailingOutput(int fail_at) : fail_at_(fail_at) {}
  Status Write(std::string_view bytes) override {
    if (++writes_ >= fail_at_) return Status::ResourceExhausted("injected: no space left on device");
    taken_ += bytes.size();
    return Status::OK();
  }
  int writes() const { return writes_; }

 private:
  int fail_at_;
  int writes_ = 0;
  uint64_t taken_ = 0;
};

// Every way the output can fail, at every write: an error that names the
// cause, never a crash. (A failure used to free the sink before libarchive's
// final flush wrote into it: a use-after-free that ASan reports here.)
TEST_F(SourceArchiveTest, AFailureAtEveryWriteIsAnErrorNeverACrash) {
  // Incompressible bytes make many writes; the zeros are streamed through
  // git cat-file, so its error paths are covered too.
  std::string noise(200 * 1024, '\0');
  uint32_t state = 1;
  for (char& c : noise) c = static_cast<char>((state = state * 1103515245 + 12345) >> 24);
  testing::CommitFiles(work_, {{"noise.bin", noise}, {"more/zeros.bin", std::string(5 << 20, '\0')}}, "bigger");
  commit_ = testing::RunOk({"git", "-C", work_, "rev-parse", "HEAD"}).substr(0, 40);
  Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
  ASSERT_TRUE(repo.ok());
  FailingOutput counting(1 << 30);
  ASSERT_TRUE(WriteSourceArchive(*repo, commit_, kFastestGzipLevel, counting).ok());
  int total = counting.writes();
  ASSERT_GT(total, 2);
  for (int fail_at = 1; fail_at <= total; ++fail_at) {
    FailingOutput failing(fail_at);
    Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit_, kFastestGzipLevel, failing);
    ASSERT_FALSE(info.ok()) << "write " << fail_at << " of " << total;
    EXPECT_EQ(info.status().code(), Status::Code::kResourceExhausted) << info.status().ToString();
    EXPECT_NE(info.status().message().find("injected"), std::string::npos) << info.status().ToString();
  }
}

TEST_F(SourceArchiveTest, ACheckpointStopsTheArchiveWithItsStatus) {
  Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
  FailingOutput out(1 << 30);
  for (int stop_at : {1, 2, 5}) {
    int calls = 0;
    Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit_, kFastestGzipLevel, out, [&]() -> Status {
      return ++calls >= stop_at ? Status::Timeout("injected: out of time") : Status::OK();
    });
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().message(), "injected: out of time");
    EXPECT_EQ(calls, stop_at);
  }
}

TEST_F(SourceArchiveTest, AnAnnotatedTagIsNotACommit) {
  RunOk({"git", "-C", work_, "tag", "-a", "-m", "release", "v1"}, testing::GitEnv());
  std::string tag = testing::RunOk({"git", "-C", work_, "rev-parse", "v1"}).substr(0, 40);
  Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
  FailingOutput out(1 << 30);
  Result<ArchiveInfo> info = WriteSourceArchive(*repo, tag, kFastestGzipLevel, out);
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("is a tag, not a commit"), std::string::npos) << info.status().ToString();
  EXPECT_EQ(*repo->ObjectType(tag), "tag");
  EXPECT_EQ(*repo->ObjectType(commit_), "commit");
}

// Counts the bytes of each regular file in a tar.gz without writing them
// anywhere, and checks every byte of "big.bin" is zero.
std::map<std::string, uint64_t> FileSizesInArchive(const std::string& path, bool* big_is_zeros) {
  std::map<std::string, uint64_t> sizes;
  struct archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 1 << 16), ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  *big_is_zeros = true;
  std::vector<char> buf(1 << 20);
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    uint64_t total = 0;
    la_ssize_t n;
    while ((n = archive_read_data(a, buf.data(), buf.size())) > 0) {
      if (name == "big.bin") {
        for (la_ssize_t i = 0; i < n; ++i) *big_is_zeros = *big_is_zeros && buf[static_cast<size_t>(i)] == 0;
      }
      total += static_cast<uint64_t>(n);
    }
    sizes[name] = total;
  }
  archive_read_free(a);
  return sizes;
}

long RssKb(const char* field) {
  std::string status = testing::ReadFile("/proc/self/status");
  size_t at = status.find(field);
  return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + std::strlen(field), nullptr, 10);
}

// A file of 2 GiB and a byte: more than archive_write_data takes at once
// (the old single call failed and crashed the hook), and far more than the
// memory archiving may use. It archives exactly, read in pieces.
TEST_F(SourceArchiveTest, AFileLargerThanTwoGibibytesArchivesExactlyInBoundedMemory) {
  constexpr uint64_t kBig = (uint64_t{1} << 31) + 1;
  RunOk({"truncate", "-s", std::to_string(kBig), work_ + "/big.bin"});
  RunOk({"git", "-C", work_, "add", "big.bin"}, testing::GitEnv());
  RunOk({"git", "-C", work_, "commit", "-q", "-m", "big"}, testing::GitEnv());
  commit_ = testing::RunOk({"git", "-C", work_, "rev-parse", "HEAD"}).substr(0, 40);
  std::string archive = dir_ / "big.tar.gz";
  // In a child, so its peak memory is its own (clear_refs resets the peak).
  EXPECT_EXIT(
      {
        testing::WriteFile("/proc/self/clear_refs", "5");
        long before = RssKb("VmRSS:");
        Result<GitRepo> repo = GitRepo::Open(work_ + "/.git");
        UniqueFd fd(::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
        FdArchiveOutput out(fd.get());
        Result<ArchiveInfo> info = WriteSourceArchive(*repo, commit_, kFastestGzipLevel, out);
        long grew_mb = (RssKb("VmHWM:") - before) >> 10;
        fprintf(stderr, "archive: %s, peak grew by %ld MiB\n", info.ok() ? "ok" : info.status().ToString().c_str(),
                grew_mb);
        ::_exit(info.ok() && grew_mb < 64 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  bool zeros = false;
  std::map<std::string, uint64_t> sizes = FileSizesInArchive(archive, &zeros);
  EXPECT_EQ(sizes["big.bin"], kBig);
  EXPECT_TRUE(zeros);
  EXPECT_EQ(sizes["README.md"], 6u);
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
