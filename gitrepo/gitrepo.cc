#include "gitrepo/gitrepo.h"

#include <fcntl.h>
#include <git2.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "util/fd.h"
#include "util/fs.h"
#include "util/process.h"

namespace pushgate {
namespace {

// libgit2 keeps global state; initialize it once per process and keep it.
void EnsureLibgit2() {
  static const int init = git_libgit2_init();
  (void)init;
}

Status GitStatus(int rc, std::string_view what) {
  const git_error* err = git_error_last();
  std::string msg(what);
  msg += ": ";
  msg += (err != nullptr && err->message != nullptr) ? err->message : "libgit2 error " + std::to_string(rc);
  switch (rc) {
    case GIT_ENOTFOUND: return Status::NotFound(std::move(msg));
    case GIT_EEXISTS: return Status::AlreadyExists(std::move(msg));
    case GIT_EINVALIDSPEC:
    case GIT_EINVALID:
    case GIT_EAMBIGUOUS: return Status::InvalidArgument(std::move(msg));
    case GIT_ELOCKED: return Status::Unavailable(std::move(msg));
    default: return Status::IOError(std::move(msg));
  }
}

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepoPtr = GitPtr<git_repository, git_repository_free>;
using ConfigPtr = GitPtr<git_config, git_config_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using OdbPtr = GitPtr<git_odb, git_odb_free>;

Result<git_oid> ParseOid(std::string_view id) {
  if (id.size() != GIT_OID_HEXSZ) return Status::InvalidArgument("\"" + std::string(id) + "\" is not a commit id");
  git_oid oid;
  if (git_oid_fromstrn(&oid, id.data(), id.size()) != 0) {
    return Status::InvalidArgument("\"" + std::string(id) + "\" is not a commit id");
  }
  return oid;
}

const char* TypeName(git_object_t type) {
  switch (type) {
    case GIT_OBJECT_COMMIT: return "commit";
    case GIT_OBJECT_TAG: return "tag";
    case GIT_OBJECT_TREE: return "tree";
    case GIT_OBJECT_BLOB: return "blob";
    default: return "unknown";
  }
}

struct ObjectHeader {
  size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
};

// An object's type and size without reading it.
Result<ObjectHeader> ReadHeader(git_repository* repo, const git_oid* oid, const std::string& what) {
  git_odb* raw_odb = nullptr;
  int rc = git_repository_odb(&raw_odb, repo);
  if (rc != 0) return GitStatus(rc, "open the object database");
  OdbPtr odb(raw_odb);
  ObjectHeader header;
  rc = git_odb_read_header(&header.size, &header.type, odb.get(), oid);
  if (rc != 0) return GitStatus(rc, what);
  return header;
}

Result<CommitPtr> LookupCommit(git_repository* repo, std::string_view id) {
  PG_ASSIGN_OR_RETURN(git_oid oid, ParseOid(id));
  git_object* raw = nullptr;
  int rc = git_object_lookup(&raw, repo, &oid, GIT_OBJECT_ANY);
  if (rc != 0) return GitStatus(rc, "look up " + std::string(id));
  ObjectPtr object(raw);
  if (git_object_type(raw) != GIT_OBJECT_COMMIT) {
    return Status::InvalidArgument(std::string(id) + " is a " + TypeName(git_object_type(raw)) + ", not a commit");
  }
  return CommitPtr(reinterpret_cast<git_commit*>(object.release()));
}

struct WalkState {
  git_repository* repo;
  git_odb* odb;
  const std::function<Status(const TreeEntry&)>* visit;
  Status status;
  std::string path;
  std::string link_target;
};

int Depth(std::string_view path) {
  int depth = 1;
  for (char c : path) depth += c == '/';
  return depth;
}

int WalkCallback(const char* root, const git_tree_entry* entry, void* payload) {
  auto* state = static_cast<WalkState*>(payload);
  state->path.assign(root);
  state->path += git_tree_entry_name(entry);
  TreeEntry out{state->path, TreeEntry::Kind::kFile, Depth(state->path), 0, {}, {}};
  git_filemode_t mode = git_tree_entry_filemode(entry);
  switch (mode) {
    case GIT_FILEMODE_TREE: out.kind = TreeEntry::Kind::kDirectory; break;
    case GIT_FILEMODE_COMMIT: out.kind = TreeEntry::Kind::kSubmodule; break;
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE:
    case GIT_FILEMODE_LINK: {
      out.kind = mode == GIT_FILEMODE_LINK              ? TreeEntry::Kind::kSymlink
                 : mode == GIT_FILEMODE_BLOB_EXECUTABLE ? TreeEntry::Kind::kExecutable
                                                        : TreeEntry::Kind::kFile;
      const git_oid* oid = git_tree_entry_id(entry);
      std::memcpy(out.id.bytes, oid->id, sizeof out.id.bytes);
      // The header only: a file's contents are read later, in bounded pieces.
      size_t size = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      int rc = git_odb_read_header(&size, &type, state->odb, oid);
      if (rc != 0) {
        state->status = GitStatus(rc, "read " + state->path);
        return -1;
      }
      if (type != GIT_OBJECT_BLOB) {
        state->status = Status::InvalidArgument(state->path + " is not a blob");
        return -1;
      }
      out.size = size;
      if (out.kind == TreeEntry::Kind::kSymlink) {
        if (size > kMaxSymlinkTarget) {
          state->status = Status::InvalidArgument("the symlink " + state->path + " has a target longer than " +
                                                  std::to_string(kMaxSymlinkTarget) + " bytes");
          return -1;
        }
        git_blob* raw = nullptr;
        rc = git_blob_lookup(&raw, state->repo, oid);
        if (rc != 0) {
          state->status = GitStatus(rc, "read " + state->path);
          return -1;
        }
        BlobPtr blob(raw);
        state->link_target.assign(static_cast<const char*>(git_blob_rawcontent(raw)),
                                  static_cast<size_t>(git_blob_rawsize(raw)));
        out.link_target = state->link_target;
      }
      break;
    }
    default:
      state->status = Status::InvalidArgument(state->path + " has an unsupported file mode");
      return -1;
  }
  state->status = (*state->visit)(out);
  return state->status.ok() ? 0 : -1;
}

// Blobs up to this size are read whole through libgit2; larger ones are
// streamed through git cat-file.
constexpr uint64_t kInMemoryBlobMax = uint64_t{4} << 20;
constexpr size_t kChunk = size_t{1} << 20;

// Environment variables through which git shows a hook the quarantined
// objects; a cat-file started from a hook must see them too.
constexpr const char* kObjectEnv[] = {"GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                                      "GIT_QUARANTINE_PATH"};

}  // namespace

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
  Result<std::vector<std::string>> objects = ListDir(path + "/objects");
  if (objects.ok()) {
    for (const std::string& entry : *objects) {
      if (entry.rfind("incoming-", 0) == 0) stale.push_back("objects/" + entry);
    }
  }
  for (const std::string& relative : stale) PG_RETURN_IF_ERROR(RemoveTree(path + "/" + relative));
  return stale;
}

Status CreateBareRepository(const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& config) {
  // Checked before libgit2 starts: its start-up parses the system's CA
  // bundle (about 10 ms), which every push but an app's first would pay.
  if (PathExists(path)) return Status::AlreadyExists(path + " already exists");
  EnsureLibgit2();
  std::string tmp = DirName(path) + "/.tmp-" + std::to_string(::getpid()) + "-" +
                    path.substr(path.rfind('/') + 1);
  PG_RETURN_IF_ERROR(RemoveTree(tmp));
  // The init function rather than the _INIT macro, which clang flags for
  // the fields it leaves to zero-initialization.
  git_repository_init_options opts;
  if (int rc = git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION); rc != 0) {
    return GitStatus(rc, "prepare to create " + path);
  }
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKDIR | GIT_REPOSITORY_INIT_NO_REINIT;
  opts.initial_head = "main";
  git_repository* raw = nullptr;
  int rc = git_repository_init_ext(&raw, tmp.c_str(), &opts);
  if (rc != 0) {
    Status s = GitStatus(rc, "create repository " + path);
    (void)RemoveTree(tmp);
    return s;
  }
  RepoPtr repo(raw);
  git_config* raw_config = nullptr;
  rc = git_repository_config(&raw_config, repo.get());
  Status s = rc == 0 ? Status::OK() : GitStatus(rc, "open config of " + path);
  ConfigPtr cfg(raw_config);
  for (const auto& [key, value] : config) {
    if (!s.ok()) break;
    rc = git_config_set_string(cfg.get(), key.c_str(), value.c_str());
    if (rc != 0) s = GitStatus(rc, "set " + key + " in " + path);
  }
  cfg.reset();
  repo.reset();
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    s = (err == EEXIST || err == ENOTEMPTY) ? Status::AlreadyExists(path + " already exists")
                                            : Status::FromErrno(err, "rename " + tmp + " to " + path);
  }
  if (!s.ok()) (void)RemoveTree(tmp);
  return s;
}

// A long-running `git cat-file --batch`: one request line per blob, the
// contents read back in pieces, so no blob is ever whole in our memory.
class GitRepo::BlobStream {
 public:
  static Result<std::unique_ptr<BlobStream>> Start(const std::string& git_path, const std::string& git_dir) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
    UniqueFd in_read(in[0]), in_write(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
    UniqueFd out_read(out[0]), out_write(out[1]);
    SpawnSpec spec;
    spec.path = git_path;
    spec.argv = {"git", "cat-file", "--batch"};
    spec.env = {"PATH=/usr/bin:/bin", "HOME=/", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                "GIT_DIR=" + git_dir};
    for (const char* name : kObjectEnv) {
      if (const char* value = std::getenv(name)) spec.env.push_back(std::string(name) + "=" + value);
    }
    spec.stdin_fd = in_read.get();
    spec.stdout_fd = out_write.get();
    spec.killed_with_parent = true;
    PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
    return std::unique_ptr<BlobStream>(new BlobStream(pid, std::move(in_write), std::move(out_read)));
  }

  ~BlobStream() {
    in_.Reset();
    (void)::kill(pid_, SIGKILL);  // unreaped, so it exists: cannot fail
    (void)WaitForExit(pid_);
  }

  Status Read(const ObjectId& id, uint64_t size, const std::function<Status(std::string_view)>& chunk) {
    std::string hex = id.Hex();
    {
      SigpipeBlocker no_sigpipe;
      PG_RETURN_IF_ERROR(WriteAll(in_.get(), hex + "\n").Annotate("ask git cat-file for " + hex));
    }
    // "<id> blob <size>\n", then the contents, then "\n".
    std::string header;
    PG_RETURN_IF_ERROR(ReadLine(header));
    std::string expected = hex + " blob " + std::to_string(size);
    if (header != expected) {
      return Status::IOError("git cat-file answered \"" + header.substr(0, 100) + "\" for " + hex);
    }
    uint64_t left = size;
    while (left > 0) {
      PG_RETURN_IF_ERROR(Fill());
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer_.size() - offset_));
      n = std::min(n, kChunk);
      PG_RETURN_IF_ERROR(chunk(std::string_view(buffer_.data() + offset_, n)));
      offset_ += n;
      left -= n;
    }
    PG_RETURN_IF_ERROR(Fill());
    if (buffer_[offset_] != '\n') return Status::IOError("git cat-file's answer for " + hex + " is malformed");
    ++offset_;
    return Status::OK();
  }

 private:
  BlobStream(pid_t pid, UniqueFd in, UniqueFd out) : pid_(pid), in_(std::move(in)), out_(std::move(out)) {}

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
        return Status::IOError("git cat-file ended early");
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
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(40);
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

GitRepo::GitRepo(git_repository* repo) : repo_(repo) {}

GitRepo::~GitRepo() {
  if (repo_ != nullptr) git_repository_free(repo_);
}

GitRepo::GitRepo(GitRepo&& other) noexcept
    : repo_(std::exchange(other.repo_, nullptr)),
      git_path_(std::move(other.git_path_)),
      stream_(std::move(other.stream_)) {}

Result<GitRepo> GitRepo::OpenFromEnvironment() {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  int rc = git_repository_open_ext(&raw, nullptr, GIT_REPOSITORY_OPEN_FROM_ENV, nullptr);
  if (rc != 0) return GitStatus(rc, "open the repository from the hook environment");
  return GitRepo(raw);
}

Result<GitRepo> GitRepo::Open(const std::string& path) {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, path.c_str());
  if (rc != 0) return GitStatus(rc, "open repository " + path);
  return GitRepo(raw);
}

Result<std::string> GitRepo::ObjectType(std::string_view id) const {
  PG_ASSIGN_OR_RETURN(git_oid oid, ParseOid(id));
  PG_ASSIGN_OR_RETURN(ObjectHeader header, ReadHeader(repo_, &oid, "look up " + std::string(id)));
  return std::string(TypeName(header.type));
}

Result<CommitInfo> GitRepo::ResolveCommit(std::string_view id) const {
  PG_ASSIGN_OR_RETURN(CommitPtr commit, LookupCommit(repo_, id));
  CommitInfo info;
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, git_commit_id(commit.get()));
  info.id = hex;
  info.time = static_cast<int64_t>(git_commit_time(commit.get()));
  const char* summary = git_commit_summary(commit.get());
  info.summary = summary != nullptr ? summary : "";
  return info;
}

Status GitRepo::WalkTree(std::string_view commit_id,
                         const std::function<Status(const TreeEntry&)>& visit) const {
  PG_ASSIGN_OR_RETURN(CommitPtr commit, LookupCommit(repo_, commit_id));
  git_tree* raw = nullptr;
  int rc = git_commit_tree(&raw, commit.get());
  if (rc != 0) return GitStatus(rc, "read the tree of " + std::string(commit_id));
  TreePtr tree(raw);
  git_odb* raw_odb = nullptr;
  rc = git_repository_odb(&raw_odb, repo_);
  if (rc != 0) return GitStatus(rc, "open the object database");
  OdbPtr odb(raw_odb);
  WalkState state{repo_, odb.get(), &visit, Status::OK(), {}, {}};
  rc = git_tree_walk(tree.get(), GIT_TREEWALK_PRE, WalkCallback, &state);
  if (!state.status.ok()) return state.status;
  if (rc != 0) return GitStatus(rc, "walk the tree of " + std::string(commit_id));
  return Status::OK();
}

namespace {

using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;

// The entry at `path` in the commit's tree; NotFound if there is none.
Result<TreeEntryPtr> EntryAt(git_repository* repo, std::string_view commit_id, const std::string& path) {
  PG_ASSIGN_OR_RETURN(CommitPtr commit, LookupCommit(repo, commit_id));
  git_tree* raw_tree = nullptr;
  int rc = git_commit_tree(&raw_tree, commit.get());
  if (rc != 0) return GitStatus(rc, "read the tree of " + std::string(commit_id));
  TreePtr tree(raw_tree);
  git_tree_entry* raw_entry = nullptr;
  rc = git_tree_entry_bypath(&raw_entry, tree.get(), path.c_str());
  if (rc == GIT_ENOTFOUND) return Status::NotFound(path + " is not in the commit");
  if (rc != 0) return GitStatus(rc, "look up " + path);
  return TreeEntryPtr(raw_entry);
}

bool IsRegularFile(const git_tree_entry* entry) {
  git_filemode_t mode = git_tree_entry_filemode(entry);
  return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

}  // namespace

Result<bool> GitRepo::HasRegularFile(std::string_view commit_id, const std::string& path) const {
  Result<TreeEntryPtr> entry = EntryAt(repo_, commit_id, path);
  if (entry.status().IsNotFound()) return false;
  if (!entry.ok()) return entry.status();
  return IsRegularFile(entry->get());
}

Result<std::string> GitRepo::ReadFileAt(std::string_view commit_id, const std::string& path,
                                        uint64_t max_bytes) const {
  PG_ASSIGN_OR_RETURN(TreeEntryPtr entry, EntryAt(repo_, commit_id, path));
  if (!IsRegularFile(entry.get())) return Status::InvalidArgument(path + " is not a regular file");
  // The size first: a huge file is refused without being read.
  PG_ASSIGN_OR_RETURN(ObjectHeader header, ReadHeader(repo_, git_tree_entry_id(entry.get()), "read " + path));
  if (header.size > max_bytes) {
    return Status::InvalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  git_blob* raw_blob = nullptr;
  int rc = git_blob_lookup(&raw_blob, repo_, git_tree_entry_id(entry.get()));
  if (rc != 0) return GitStatus(rc, "read " + path);
  BlobPtr blob(raw_blob);
  return std::string(static_cast<const char*>(git_blob_rawcontent(raw_blob)),
                     static_cast<size_t>(git_blob_rawsize(raw_blob)));
}

Status GitRepo::ReadBlob(const ObjectId& id, uint64_t size,
                         const std::function<Status(std::string_view)>& chunk) const {
  if (size <= kInMemoryBlobMax) {
    git_oid oid;
    std::memcpy(oid.id, id.bytes, sizeof id.bytes);
    git_blob* raw = nullptr;
    int rc = git_blob_lookup(&raw, repo_, &oid);
    if (rc != 0) return GitStatus(rc, "read blob " + id.Hex());
    BlobPtr blob(raw);
    std::string_view data(static_cast<const char*>(git_blob_rawcontent(raw)), static_cast<size_t>(git_blob_rawsize(raw)));
    if (data.size() != size) return Status::IOError("blob " + id.Hex() + " changed size");
    while (!data.empty()) {
      size_t n = std::min(data.size(), kChunk);
      PG_RETURN_IF_ERROR(chunk(data.substr(0, n)));
      data.remove_prefix(n);
    }
    return Status::OK();
  }
  if (!stream_) {
    PG_ASSIGN_OR_RETURN(stream_, BlobStream::Start(git_path_, git_repository_path(repo_)));
  }
  Status read = stream_->Read(id, size, chunk);
  // A stream stopped halfway cannot be resumed; the next blob starts a new one.
  if (!read.ok()) stream_.reset();
  return read;
}

}  // namespace pushgate
