#include "gitrepo/gitrepo.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "gitrepo/objects.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/sha256.h"

namespace pushgate {
namespace {

// Pieces handed to a ReadBlob callback, and the read size from the pipe.
constexpr size_t kChunk = size_t{1} << 20;
// A tree or commit object is read whole; one larger than this is refused
// rather than held in memory (git's own trees stay far below: a directory
// of 100,000 files is about 4 MB).
constexpr uint64_t kMaxTreeOrCommit = uint64_t{64} << 20;
// Requests written before their answers are read. Both stay well inside a
// pipe's 64 KiB, so neither side can block on the other.
constexpr size_t kPipelinedRequests = 256;

// Environment variables through which git shows a hook the quarantined
// objects; a cat-file started from a hook must see them too.
constexpr const char* kObjectEnv[] = {"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                                      "GIT_QUARANTINE_PATH"};


std::string Lowercase(std::string_view id) {
  std::string out(id);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status RunGit(const std::string& git_path, std::vector<std::string> argv, const std::string& what) {
  SpawnSpec spec;
  spec.path = git_path;
  spec.argv = std::move(argv);
  spec.env = {"PATH=/usr/bin:/bin", "HOME=/", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"};
  PG_ASSIGN_OR_RETURN(CapturedRun run, RunAndCapture(std::move(spec)));
  if (run.status.success()) return Status::OK();
  return Status::IOError(what + ": git " + run.status.Describe() + ": " + run.output.substr(0, 500));
}

}  // namespace

bool IsQuarantineDirName(std::string_view name) {
  return name.starts_with("tmp_objdir-incoming-") || name.starts_with("incoming-");
}

Result<std::vector<std::string>> RemoveLeftoversOfKilledGit(const std::string& path) {
  std::vector<std::string> stale;
  for (const char* name : {"HEAD.lock", "packed-refs.lock", "config.lock", "shallow.lock"}) {
    if (::access((path + "/" + name).c_str(), F_OK) == 0) stale.push_back(name);
  }
  std::error_code ec;
  namespace fs = std::filesystem;
  for (auto it = fs::recursive_directory_iterator(path + "/refs", ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".lock" && !it->is_directory()) stale.push_back(fs::relative(p, path).string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) return Status::FromErrno(ec.value(), "scan " + path + "/refs");
  // Read in place: objects/ holds up to 256 fan-out directories, and this
  // runs before every push.
  if (UniqueDir objects{::opendir((path + "/objects").c_str())}) {
    while (struct dirent* entry = ::readdir(objects.get())) {
      std::string_view name = entry->d_name;
      if (IsQuarantineDirName(name)) stale.push_back("objects/" + std::string(name));
    }
  }
  for (const std::string& relative : stale) PG_RETURN_IF_ERROR(RemoveTree(path + "/" + relative));
  return stale;
}

Status CreateBareRepository(const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& config,
                            const std::string& git_path) {
  if (PathExists(path)) return Status::AlreadyExists(path + " already exists");
  std::string tmp = DirName(path) + "/.tmp-" + std::to_string(::getpid()) + "-" +
                    path.substr(path.rfind('/') + 1);
  PG_RETURN_IF_ERROR(RemoveTree(tmp));
  Status s = RunGit(git_path, {"git", "init", "--quiet", "--bare", "--template=", "--initial-branch=main", "--", tmp},
                    "create repository " + path);
  for (const auto& [key, value] : config) {
    if (!s.ok()) break;
    s = RunGit(git_path, {"git", "config", "--file", tmp + "/config", "--", key, value}, "set " + key + " in " + path);
  }
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    s = (err == EEXIST || err == ENOTEMPTY) ? Status::AlreadyExists(path + " already exists")
                                            : Status::FromErrno(err, "rename " + tmp + " to " + path);
  }
  if (!s.ok()) (void)RemoveTree(tmp);
  return s;
}

// The answer's first line to "info ID" or "contents ID".
struct GitRepo::ObjectHeader {
  bool missing = false;
  std::string type;
  uint64_t size = 0;
};

// A long-running `git cat-file --batch-command`: requests are lines ("info
// ID", "contents ID"), answers a header line and, for contents, the object's
// bytes, read back in pieces so no blob is ever whole in our memory. git
// flushes after each request.
class GitRepo::CatFile {
 public:
  static Result<std::unique_ptr<CatFile>> Start(const std::string& git_path, const std::string& git_dir) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
    UniqueFd in_read(in[0]), in_write(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
    UniqueFd out_read(out[0]), out_write(out[1]);
    SpawnSpec spec;
    spec.path = git_path;
    spec.argv = {"git", "cat-file", "--batch-command"};
    spec.env = {"PATH=/usr/bin:/bin", "HOME=/", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                "GIT_DIR=" + git_dir};
    for (const char* name : kObjectEnv) {
      if (const char* value = std::getenv(name)) spec.env.push_back(std::string(name) + "=" + value);
    }
    spec.stdin_fd = in_read.get();
    spec.stdout_fd = out_write.get();
    spec.killed_with_parent = true;
    PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
    return std::unique_ptr<CatFile>(new CatFile(pid, std::move(in_write), std::move(out_read)));
  }

  ~CatFile() {
    in_.Reset();
    (void)::kill(pid_, SIGKILL);  // unreaped, so it exists: cannot fail
    (void)WaitForExit(pid_);
  }

  // Writes request lines; `ids` are validated hex, so a request is one line.
  Status Send(std::string_view requests) {
    SigpipeBlocker no_sigpipe;
    return WriteAll(in_.get(), requests).Annotate("write to git cat-file");
  }

  // Asks `verb` ("info" or "contents") of `id` and reads the answer's header.
  Result<ObjectHeader> Ask(std::string_view verb, const std::string& id) {
    PG_RETURN_IF_ERROR(Send(std::string(verb) + " " + id + "\n"));
    return ReadHeader(id);
  }

  // "<id> <type> <size>" or "<id> missing".
  Result<ObjectHeader> ReadHeader(const std::string& id) {
    std::string line;
    PG_RETURN_IF_ERROR(ReadLine(line));
    ObjectHeader header;
    if (line == id + " missing") {
      header.missing = true;
      return header;
    }
    size_t type_end = line.find(' ', id.size() + 1);
    if (line.compare(0, id.size() + 1, id + " ") != 0 || type_end == std::string::npos) {
      return Status::IOError("git cat-file answered \"" + line.substr(0, 100) + "\" for " + id);
    }
    header.type = line.substr(id.size() + 1, type_end - id.size() - 1);
    std::string_view size(line.c_str() + type_end + 1);
    if (size.empty() || size.size() > 19) return Status::IOError("git cat-file gave no size for " + id);
    for (char c : size) {
      if (c < '0' || c > '9') return Status::IOError("git cat-file gave no size for " + id);
      header.size = header.size * 10 + static_cast<uint64_t>(c - '0');
    }
    return header;
  }

  // The `size` bytes of contents after a header, then its "\n".
  Status ReadContents(uint64_t size, const std::function<Status(std::string_view)>& chunk) {
    uint64_t left = size;
    while (left > 0) {
      PG_RETURN_IF_ERROR(Fill());
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer_.size() - offset_));
      PG_RETURN_IF_ERROR(chunk(std::string_view(buffer_.data() + offset_, n)));
      offset_ += n;
      left -= n;
    }
    PG_RETURN_IF_ERROR(Fill());
    if (buffer_[offset_] != '\n') return Status::IOError("git cat-file's answer is malformed");
    ++offset_;
    return Status::OK();
  }

 private:
  CatFile(pid_t pid, UniqueFd in, UniqueFd out) : pid_(pid), in_(std::move(in)), out_(std::move(out)) {}

  // Makes at least one unread byte available.
  Status Fill() {
    if (offset_ < buffer_.size()) return Status::OK();
    buffer_.resize(kChunk);
    offset_ = 0;
    for (;;) {
      ssize_t n = ::read(out_.get(), buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read from git cat-file");
      if (n == 0) {
        buffer_.clear();
        return Status::IOError("git cat-file ended early (is this a git repository?)");
      }
      buffer_.resize(static_cast<size_t>(n));
      return Status::OK();
    }
  }

  Status ReadLine(std::string& line) {
    line.clear();
    for (;;) {
      PG_RETURN_IF_ERROR(Fill());
      char c = buffer_[offset_++];
      if (c == '\n') return Status::OK();
      if (line.size() > 200) return Status::IOError("git cat-file's answer is malformed");
      line += c;
    }
  }

  pid_t pid_;
  UniqueFd in_;
  UniqueFd out_;
  std::string buffer_;
  size_t offset_ = 0;
};

std::string ObjectId::Hex() const {
  return LowerHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

GitRepo::GitRepo(std::string git_dir) : git_dir_(std::move(git_dir)) {}

GitRepo::~GitRepo() = default;

GitRepo::GitRepo(GitRepo&& other) noexcept = default;

Result<GitRepo> GitRepo::OpenFromEnvironment() {
  const char* git_dir = std::getenv("GIT_DIR");
  std::string dir = git_dir != nullptr && *git_dir != '\0' ? git_dir : ".";
  if (dir[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return Status::FromErrno(errno, "getcwd");
    dir = std::string(cwd) + (dir == "." ? "" : "/" + dir);
  }
  return Open(dir);
}

Result<GitRepo> GitRepo::Open(const std::string& path) {
  // What git itself requires of a repository; cat-file would otherwise only
  // fail at the first question.
  struct stat st;
  if (::stat((path + "/objects").c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      ::stat((path + "/HEAD").c_str(), &st) != 0) {
    return Status::NotFound("open repository " + path + ": not a git repository");
  }
  return GitRepo(path);
}

Result<GitRepo::CatFile*> GitRepo::cat_file() const {
  if (!cat_file_) {
    PG_ASSIGN_OR_RETURN(cat_file_, CatFile::Start(git_path_, git_dir_));
  }
  return cat_file_.get();
}

Result<std::string> GitRepo::ReadObject(const std::string& id, std::string_view type, const std::string& what) const {
  PG_ASSIGN_OR_RETURN(CatFile * git, cat_file());
  Result<ObjectHeader> header = git->Ask("contents", id);
  if (!header.ok()) {
    cat_file_.reset();
    return header.status().Annotate(what);
  }
  if (header->missing) return Status::NotFound(what + ": no object " + id);
  // Refused before its contents are read: the process is then mid-answer,
  // and the next request starts a new one.
  if (header->type != type) {
    cat_file_.reset();
    return Status::InvalidArgument(what + ": " + id + " is a " + header->type + ", not a " + std::string(type));
  }
  if (header->size > kMaxTreeOrCommit) {
    cat_file_.reset();
    return Status::InvalidArgument(what + ": the " + std::string(type) + " " + id + " is larger than " +
                                   std::to_string(kMaxTreeOrCommit >> 20) + " MiB");
  }
  std::string contents;
  contents.reserve(static_cast<size_t>(header->size));
  Status read = git->ReadContents(header->size, [&contents](std::string_view piece) {
    contents.append(piece);
    return Status::OK();
  });
  if (!read.ok()) {
    cat_file_.reset();
    return read.Annotate(what);
  }
  return contents;
}

Result<std::string> GitRepo::ObjectType(std::string_view id) const {
  if (!IsHexObjectId(id)) return Status::InvalidArgument("\"" + std::string(id) + "\" is not an object id");
  std::string hex = Lowercase(id);
  PG_ASSIGN_OR_RETURN(std::vector<ObjectHeader> headers, ReadHeaders({hex}));
  if (headers[0].missing) return Status::NotFound("look up " + hex + ": no such object");
  return headers[0].type;
}

Result<ParsedCommit> GitRepo::ReadCommit(std::string_view id, std::string* hex) const {
  if (!IsHexObjectId(id)) return Status::InvalidArgument("\"" + std::string(id) + "\" is not a commit id");
  *hex = Lowercase(id);
  PG_ASSIGN_OR_RETURN(std::string raw, ReadObject(*hex, "commit", "look up " + *hex));
  return ParseCommit(raw);
}

Result<CommitInfo> GitRepo::ResolveCommit(std::string_view id) const {
  std::string hex;
  PG_ASSIGN_OR_RETURN(ParsedCommit commit, ReadCommit(id, &hex));
  return CommitInfo{hex, commit.time, std::move(commit.summary)};
}

namespace {

TreeEntry::Kind KindOf(RawTreeEntry::Mode mode) {
  switch (mode) {
    case RawTreeEntry::Mode::kDirectory: return TreeEntry::Kind::kDirectory;
    case RawTreeEntry::Mode::kFile: return TreeEntry::Kind::kFile;
    case RawTreeEntry::Mode::kExecutable: return TreeEntry::Kind::kExecutable;
    case RawTreeEntry::Mode::kSymlink: return TreeEntry::Kind::kSymlink;
    case RawTreeEntry::Mode::kSubmodule: return TreeEntry::Kind::kSubmodule;
  }
  return TreeEntry::Kind::kFile;
}

bool HasContents(RawTreeEntry::Mode mode) {
  return mode == RawTreeEntry::Mode::kFile || mode == RawTreeEntry::Mode::kExecutable ||
         mode == RawTreeEntry::Mode::kSymlink;
}

}  // namespace

Result<std::vector<GitRepo::ObjectHeader>> GitRepo::ReadHeaders(const std::vector<std::string>& ids) const {
  PG_ASSIGN_OR_RETURN(CatFile * git, cat_file());
  std::vector<ObjectHeader> headers;
  headers.reserve(ids.size());
  Status s;
  for (size_t begin = 0; begin < ids.size() && s.ok(); begin += kPipelinedRequests) {
    size_t end = std::min(ids.size(), begin + kPipelinedRequests);
    std::string requests;
    for (size_t i = begin; i < end; ++i) requests += "info " + ids[i] + "\n";
    s = git->Send(requests);
    for (size_t i = begin; i < end && s.ok(); ++i) {
      Result<ObjectHeader> header = git->ReadHeader(ids[i]);
      if (header.ok()) {
        headers.push_back(std::move(header).value());
      } else {
        s = header.status();
      }
    }
  }
  if (!s.ok()) {
    cat_file_.reset();
    return s;
  }
  return headers;
}

// Depth first, parents before children, each tree's entries in stored order
// (git's): the order libgit2's pre-order walk and `git ls-tree -r -t` give.
// An explicit stack: a pushed tree may nest deeper than a thread's stack.
Status GitRepo::WalkTree(std::string_view commit_id, const std::function<Status(const TreeEntry&)>& visit) const {
  std::string hex;
  PG_ASSIGN_OR_RETURN(ParsedCommit parsed, ReadCommit(commit_id, &hex));
  struct Level {
    std::string prefix;  // "" or "dir/sub/"
    std::string raw;     // the tree's contents, which `entries` point into
    std::vector<RawTreeEntry> entries;
    std::vector<ObjectHeader> headers;  // of the entries with contents, in order
    size_t next = 0;
    size_t next_header = 0;
  };
  std::vector<std::unique_ptr<Level>> stack;
  auto open = [&](std::string prefix, const std::string& tree_id) -> Status {
    auto level = std::make_unique<Level>();
    level->prefix = std::move(prefix);
    std::string what = "read " + (level->prefix.empty() ? std::string("the tree") : level->prefix);
    PG_ASSIGN_OR_RETURN(level->raw, ReadObject(tree_id, "tree", what));
    PG_RETURN_IF_ERROR(ParseTree(level->raw, &level->entries).Annotate(what));
    // Every file's size, asked for all at once: one round trip per tree.
    std::vector<std::string> ids;
    for (const RawTreeEntry& e : level->entries) {
      if (HasContents(e.mode)) ids.push_back(LowerHex(e.id));
    }
    PG_ASSIGN_OR_RETURN(level->headers, ReadHeaders(ids));
    stack.push_back(std::move(level));
    return Status::OK();
  };
  PG_RETURN_IF_ERROR(open("", parsed.tree));
  std::string path;
  std::string link_target;
  while (!stack.empty()) {
    Level& level = *stack.back();
    if (level.next == level.entries.size()) {
      stack.pop_back();
      continue;
    }
    const RawTreeEntry& raw = level.entries[level.next++];
    path = level.prefix;
    path.append(raw.name);
    int depth = static_cast<int>(stack.size());
    TreeEntry out{path, KindOf(raw.mode), depth, 0, {}, {}};
    std::memcpy(out.id.bytes, raw.id.data(), sizeof out.id.bytes);
    if (HasContents(raw.mode)) {
      const ObjectHeader& header = level.headers[level.next_header++];
      if (header.missing) return Status::NotFound("read " + path + ": its object is missing");
      if (header.type != "blob") return Status::InvalidArgument(path + " is not a blob");
      out.size = header.size;
      if (out.kind == TreeEntry::Kind::kSymlink) {
        if (header.size > kMaxSymlinkTarget) {
          return Status::InvalidArgument("the symlink " + path + " has a target longer than " +
                                         std::to_string(kMaxSymlinkTarget) + " bytes");
        }
        PG_ASSIGN_OR_RETURN(link_target, ReadObject(out.id.Hex(), "blob", "read " + path));
        out.link_target = link_target;
      }
    }
    PG_RETURN_IF_ERROR(visit(out));
    if (raw.mode == RawTreeEntry::Mode::kDirectory) {
      std::string prefix = path + "/";
      PG_RETURN_IF_ERROR(open(std::move(prefix), LowerHex(raw.id)));
    }
  }
  return Status::OK();
}

Result<RawTreeEntry> GitRepo::EntryAt(std::string_view commit_id, const std::string& path,
                                      std::string* storage) const {
  std::string hex;
  PG_ASSIGN_OR_RETURN(ParsedCommit parsed, ReadCommit(commit_id, &hex));
  std::string tree = parsed.tree;
  std::string_view rest = path;
  std::vector<RawTreeEntry> entries;
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    PG_ASSIGN_OR_RETURN(*storage, ReadObject(tree, "tree", "look up " + path));
    PG_RETURN_IF_ERROR(ParseTree(*storage, &entries).Annotate("look up " + path));
    auto found = std::find_if(entries.begin(), entries.end(), [name](const RawTreeEntry& e) { return e.name == name; });
    if (name.empty() || found == entries.end()) return Status::NotFound(path + " is not in the commit");
    if (slash == std::string_view::npos) return *found;
    if (found->mode != RawTreeEntry::Mode::kDirectory) return Status::NotFound(path + " is not in the commit");
    tree = LowerHex(found->id);
    rest.remove_prefix(slash + 1);
  }
}

Result<bool> GitRepo::HasRegularFile(std::string_view commit_id, const std::string& path) const {
  std::string storage;
  Result<RawTreeEntry> entry = EntryAt(commit_id, path, &storage);
  if (entry.status().IsNotFound()) return false;
  if (!entry.ok()) return entry.status();
  return entry->mode == RawTreeEntry::Mode::kFile || entry->mode == RawTreeEntry::Mode::kExecutable;
}

Result<std::string> GitRepo::ReadFileAt(std::string_view commit_id, const std::string& path,
                                        uint64_t max_bytes) const {
  std::string storage;
  PG_ASSIGN_OR_RETURN(RawTreeEntry entry, EntryAt(commit_id, path, &storage));
  if (entry.mode != RawTreeEntry::Mode::kFile && entry.mode != RawTreeEntry::Mode::kExecutable) {
    return Status::InvalidArgument(path + " is not a regular file");
  }
  // The size first: a huge file is refused without being read.
  std::string id = LowerHex(entry.id);
  PG_ASSIGN_OR_RETURN(std::vector<ObjectHeader> headers, ReadHeaders({id}));
  if (headers[0].missing) return Status::NotFound("read " + path + ": its object is missing");
  if (headers[0].type != "blob") return Status::InvalidArgument(path + " is not a blob");
  if (headers[0].size > max_bytes) {
    return Status::InvalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return ReadObject(id, "blob", "read " + path);
}

Status GitRepo::ReadBlob(const ObjectId& id, uint64_t size,
                         const std::function<Status(std::string_view)>& chunk) const {
  std::string hex = id.Hex();
  PG_ASSIGN_OR_RETURN(CatFile * git, cat_file());
  Result<ObjectHeader> header = git->Ask("contents", hex);
  Status s;
  if (header.ok() && (header->missing || header->type != "blob" || header->size != size)) {
    s = Status::IOError("blob " + hex + " is not the " + std::to_string(size) + "-byte blob the walk saw");
  } else if (header.ok()) {
    s = git->ReadContents(size, [&chunk](std::string_view piece) {
      while (!piece.empty()) {
        size_t n = std::min(piece.size(), kChunk);
        PG_RETURN_IF_ERROR(chunk(piece.substr(0, n)));
        piece.remove_prefix(n);
      }
      return Status::OK();
    });
  } else {
    s = header.status();
  }
  // A stream stopped halfway cannot be resumed; the next request starts a new one.
  if (!s.ok()) cat_file_.reset();
  return s;
}

}  // namespace pushgate
