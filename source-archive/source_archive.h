// Source archives: the exact pushed tree as a deterministic tar.gz. This is
// the libarchive adapter (writing in the hook, extracting in pushgate-deploy).
//
// Determinism: the same commit always gives byte-identical output. Entries
// come in git's tree order, every mtime is the commit time, owners are 0/0
// with no user or group names, modes are git's (0644, 0755, symlinks 0777,
// directories 0755), and the gzip header carries no timestamp or name.
#ifndef PUSHGATE_SOURCE_ARCHIVE_SOURCE_ARCHIVE_H_
#define PUSHGATE_SOURCE_ARCHIVE_SOURCE_ARCHIVE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "gitrepo/gitrepo.h"
#include "util/status.h"

namespace pushgate {

struct ArchiveInfo {
  std::string sha256;  // of the tar.gz bytes, 64 hex digits
  uint64_t bytes = 0;
  uint64_t entries = 0;
};

// Where an archive's bytes go.
class ArchiveOutput {
 public:
  virtual ~ArchiveOutput() = default;
  // Takes all of `bytes` or fails.
  virtual Status Write(std::string_view bytes) = 0;
};

// Writes to a file descriptor, retrying short writes.
class FdArchiveOutput : public ArchiveOutput {
 public:
  explicit FdArchiveOutput(int fd) : fd_(fd) {}
  Status Write(std::string_view bytes) override;

 private:
  int fd_;
};

// Called before each entry and each piece of a file's contents; a non-OK
// Status stops the archive and is returned as it is. This is how a caller
// bounds the time an archive takes and stops it when nobody waits for it.
using ArchiveCheckpoint = std::function<Status()>;

// zlib's levels, 1 (fastest) to 9 (smallest): build.source_compression.
inline constexpr int kFastestGzipLevel = 1;
inline constexpr int kSmallestGzipLevel = 9;

// Writes the tree of the commit `commit_id` to `out` as tar.gz, compressed
// at `gzip_level`, and hashes what it writes. File contents are streamed in
// pieces (GitRepo::ReadBlob), so memory stays flat whatever the size of the
// files. The same commit at the same level gives the same bytes.
Result<ArchiveInfo> WriteSourceArchive(const GitRepo& repo, const std::string& commit_id, int gzip_level,
                                       ArchiveOutput& out, const ArchiveCheckpoint& checkpoint = {});

// Unpacks a source archive into the existing, empty directory `dest`.
// Only regular files, directories and symlinks are accepted; absolute paths,
// ".." components and any path through a symlink are refused, so nothing is
// ever written outside `dest`. Symlinks are created as they are in git
// (their targets are not followed or checked). `checkpoint` runs before each
// entry and block; its error stops the extraction and is returned.
Status ExtractSourceArchive(const std::string& archive_path, const std::string& dest,
                            const ArchiveCheckpoint& checkpoint = {});

}  // namespace pushgate

#endif  // PUSHGATE_SOURCE_ARCHIVE_SOURCE_ARCHIVE_H_
