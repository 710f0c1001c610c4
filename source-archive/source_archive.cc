#include "source-archive/source_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "source-archive/gzip.h"
#include "source-archive/sha256.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryDeleter>;

Status ArchiveStatus(struct archive* a, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  const char* err = archive_error_string(a);
  msg += err != nullptr ? err : "libarchive error";
  int errnum = archive_errno(a);
  if (errnum == ENOSPC || errnum == EDQUOT) return Status::ResourceExhausted(std::move(msg));
  if (errnum == EILSEQ) return Status::InvalidArgument(std::move(msg));  // ARCHIVE_ERRNO_FILE_FORMAT
  return Status::IOError(std::move(msg));
}

// What libarchive writes the tar into: gzip, then the caller's output and a
// hash of the same compressed bytes. It must outlive the archive writer,
// whose destructor (archive_free) may still flush into it.
//
// libarchive never sees a write fail: once the archive is in its fatal
// state, 3.6 frees neither its filters' buffers nor the gzip filter's zlib
// state (LSan shows both). A failure is kept in `error` and everything after
// it is discarded; the archive is then closed normally and the error returned.
struct Sink {
  explicit Sink(ArchiveOutput* output) : out(output) {}
  Status Compressed(std::string_view data) {
    PG_RETURN_IF_ERROR(out->Write(data));
    hash.Update(data);
    bytes += data.size();
    return Status::OK();
  }

  ArchiveOutput* out;
  Sha256 hash;
  uint64_t bytes = 0;
  std::unique_ptr<GzipEncoder> gzip;
  Status error;  // the first failure; from then on the bytes are discarded
};

la_ssize_t SinkWrite(struct archive*, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<Sink*>(client);
  if (sink->error.ok()) sink->error = sink->gzip->Write(std::string_view(static_cast<const char*>(buffer), length));
  return static_cast<la_ssize_t>(length);
}

// archive_write_data takes at most INT_MAX bytes per call and may take less
// than it is given; this feeds it everything.
Status WriteData(struct archive* a, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(a, data.data(), data.size());
    if (n <= 0) return ArchiveStatus(a, "archive " + name);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

// libarchive converts path names through the current locale and crashes or
// fails in the "C" locale. This switches the calling thread (only) to
// C.UTF-8 for the lifetime of the object; the process locale is untouched.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {
    if (utf8_ != static_cast<locale_t>(0)) previous_ = ::uselocale(utf8_);
  }
  ~ScopedUtf8Locale() {
    if (utf8_ != static_cast<locale_t>(0)) {
      ::uselocale(previous_);
      ::freelocale(utf8_);
    }
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;
  bool ok() const { return utf8_ != static_cast<locale_t>(0); }

 private:
  locale_t utf8_;
  locale_t previous_ = LC_GLOBAL_LOCALE;
};

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

Status FdArchiveOutput::Write(std::string_view bytes) { return WriteAll(fd_, bytes); }

Result<ArchiveInfo> WriteSourceArchive(const GitRepo& repo, const std::string& commit_id, int gzip_level,
                                       ArchiveOutput& out, const ArchiveCheckpoint& checkpoint) {
  PG_ASSIGN_OR_RETURN(CommitInfo commit, repo.ResolveCommit(commit_id));
  ScopedUtf8Locale locale;
  if (!locale.ok()) return Status::Internal("the C.UTF-8 locale is not available");
  // Declared before the writer so that it outlives it: archive_free flushes.
  Sink sink(&out);
  PG_ASSIGN_OR_RETURN(sink.gzip, GzipEncoder::Create(gzip_level,
                                                      [&sink](std::string_view data) { return sink.Compressed(data); }));
  ArchivePtr a(archive_write_new());
  if (!a) return Status::ResourceExhausted("libarchive: out of memory");
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK) {
    return ArchiveStatus(a.get(), "set up the archive writer");
  }
  if (archive_write_open2(a.get(), &sink, nullptr, SinkWrite, nullptr, nullptr) != ARCHIVE_OK) {
    return ArchiveStatus(a.get(), "start the archive");
  }
  // Ends a failed archive: what is left is discarded (a half-written file's
  // padding too), and closing frees everything libarchive holds.
  auto failed = [&](const Status& s) {
    if (sink.error.ok()) sink.error = s;
    (void)archive_write_close(a.get());
    return sink.error;
  };
  ArchiveInfo info;
  EntryPtr entry(archive_entry_new());
  if (!entry) return Status::ResourceExhausted("libarchive: out of memory");
  std::string name;
  Status walked = repo.WalkTree(commit.id, [&](const TreeEntry& e) -> Status {
    if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
    archive_entry_clear(entry.get());
    name.assign(e.path);
    archive_entry_set_mtime(entry.get(), static_cast<time_t>(commit.time), 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    bool has_data = false;
    switch (e.kind) {
      case TreeEntry::Kind::kDirectory:
      case TreeEntry::Kind::kSubmodule:  // like git archive: an empty directory
        name += '/';
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_perm(entry.get(), 0755);
        break;
      case TreeEntry::Kind::kFile:
      case TreeEntry::Kind::kExecutable:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), e.kind == TreeEntry::Kind::kExecutable ? 0755 : 0644);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.size));
        has_data = true;
        break;
      case TreeEntry::Kind::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_perm(entry.get(), 0777);
        archive_entry_set_symlink(entry.get(), std::string(e.link_target).c_str());
        break;
    }
    archive_entry_set_pathname(entry.get(), name.c_str());
    // Git paths are bytes, in practice UTF-8. A name that is not UTF-8 only
    // draws a warning: the pax writer then records its bytes exactly
    // (hdrcharset=BINARY), which is what we want.
    if (archive_write_header(a.get(), entry.get()) < ARCHIVE_WARN) return ArchiveStatus(a.get(), "archive " + name);
    PG_RETURN_IF_ERROR(sink.error);
    if (has_data && e.size > 0) {
      PG_RETURN_IF_ERROR(repo.ReadBlob(e.id, e.size, [&](std::string_view piece) -> Status {
        if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
        PG_RETURN_IF_ERROR(WriteData(a.get(), piece, name));
        return sink.error;
      }));
    }
    ++info.entries;
    return Status::OK();
  });
  if (!walked.ok()) return failed(walked);
  if (archive_write_close(a.get()) != ARCHIVE_OK) return failed(ArchiveStatus(a.get(), "finish the archive"));
  PG_RETURN_IF_ERROR(sink.error);
  PG_RETURN_IF_ERROR(sink.gzip->Finish());
  PG_ASSIGN_OR_RETURN(info.sha256, sink.hash.FinishHex());
  info.bytes = sink.bytes;
  return info;
}

Status ExtractSourceArchive(const std::string& archive_path, const std::string& dest,
                            const ArchiveCheckpoint& checkpoint) {
  ScopedUtf8Locale locale;
  if (!locale.ok()) return Status::Internal("the C.UTF-8 locale is not available");
  ArchivePtr in(archive_read_new());
  ArchivePtr out(archive_write_disk_new());
  if (!in || !out) return Status::ResourceExhausted("libarchive: out of memory");
  if (archive_read_support_filter_gzip(in.get()) != ARCHIVE_OK ||
      archive_read_support_format_tar(in.get()) != ARCHIVE_OK) {
    return ArchiveStatus(in.get(), "read gzip-compressed tar");
  }
  // The secure flags are libarchive's own guards; the path check below is ours.
  if (archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                    ARCHIVE_EXTRACT_NO_OVERWRITE) != ARCHIVE_OK) {
    return ArchiveStatus(out.get(), "set the safe extraction options");
  }
  if (archive_read_open_filename(in.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return ArchiveStatus(in.get(), "open " + archive_path);
  }
  // libarchive's secure-symlink check covers every component of the path it
  // is given, so paths stay relative to `dest` (the working directory while
  // extracting) and symlinks above `dest` do not matter.
  UniqueFd saved_cwd(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!saved_cwd.valid()) return Status::FromErrno(errno, "open the working directory");
  if (::chdir(dest.c_str()) != 0) return Status::FromErrno(errno, "chdir " + dest);
  struct RestoreCwd {
    int fd;
    ~RestoreCwd() { (void)::fchdir(fd); }
  } restore{saved_cwd.get()};
  for (;;) {
    if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return ArchiveStatus(in.get(), "read " + archive_path);
    const char* raw_path = archive_entry_pathname(entry);
    std::string_view path = raw_path != nullptr ? raw_path : "";
    if (!IsSafeRelativePath(path)) {
      return Status::InvalidArgument("refusing archive entry \"" + std::string(path) + "\": unsafe path");
    }
    mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      return Status::InvalidArgument("refusing archive entry \"" + std::string(path) + "\": not a file, "
                                     "directory or symlink");
    }
    if (type == AE_IFREG && archive_entry_hardlink(entry) != nullptr) {
      return Status::InvalidArgument("refusing archive entry \"" + std::string(path) + "\": hard link");
    }
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      return ArchiveStatus(out.get(), "extract " + std::string(path));
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    while ((rc = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
      if (archive_write_data_block(out.get(), block, size, offset) != ARCHIVE_OK) {
        return ArchiveStatus(out.get(), "extract " + std::string(path));
      }
    }
    if (rc != ARCHIVE_EOF) return ArchiveStatus(in.get(), "read " + std::string(path));
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK) {
      return ArchiveStatus(out.get(), "extract " + std::string(path));
    }
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) return ArchiveStatus(out.get(), "finish extraction");
  return Status::OK();
}

}  // namespace pushgate
