#include "gitrepo/gitrepo.h"

#include <git2.h>
#include <unistd.h>

#include <filesystem>

#include "util/fs.h"

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

Result<git_oid> ParseOid(std::string_view id) {
  if (id.size() != GIT_OID_HEXSZ) return Status::InvalidArgument("\"" + std::string(id) + "\" is not a commit id");
  git_oid oid;
  if (git_oid_fromstrn(&oid, id.data(), id.size()) != 0) {
    return Status::InvalidArgument("\"" + std::string(id) + "\" is not a commit id");
  }
  return oid;
}

Result<CommitPtr> PeelToCommit(git_repository* repo, std::string_view id) {
  PG_ASSIGN_OR_RETURN(git_oid oid, ParseOid(id));
  git_object* raw = nullptr;
  int rc = git_object_lookup(&raw, repo, &oid, GIT_OBJECT_ANY);
  if (rc != 0) return GitStatus(rc, "look up " + std::string(id));
  ObjectPtr object(raw);
  git_object* peeled = nullptr;
  rc = git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT);
  if (rc != 0) return Status::InvalidArgument(std::string(id) + " is not a commit");
  return CommitPtr(reinterpret_cast<git_commit*>(peeled));
}

struct WalkState {
  git_repository* repo;
  const std::function<Status(const TreeEntry&)>* visit;
  Status status;
  std::string path;
};

int WalkCallback(const char* root, const git_tree_entry* entry, void* payload) {
  auto* state = static_cast<WalkState*>(payload);
  state->path.assign(root);
  state->path += git_tree_entry_name(entry);
  TreeEntry out{state->path, TreeEntry::Kind::kFile, {}};
  BlobPtr blob;
  switch (git_tree_entry_filemode(entry)) {
    case GIT_FILEMODE_TREE: out.kind = TreeEntry::Kind::kDirectory; break;
    case GIT_FILEMODE_COMMIT: out.kind = TreeEntry::Kind::kSubmodule; break;
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE:
    case GIT_FILEMODE_LINK: {
      git_filemode_t mode = git_tree_entry_filemode(entry);
      out.kind = mode == GIT_FILEMODE_LINK         ? TreeEntry::Kind::kSymlink
                 : mode == GIT_FILEMODE_BLOB_EXECUTABLE ? TreeEntry::Kind::kExecutable
                                                        : TreeEntry::Kind::kFile;
      git_blob* raw = nullptr;
      int rc = git_blob_lookup(&raw, state->repo, git_tree_entry_id(entry));
      if (rc != 0) {
        state->status = GitStatus(rc, "read " + state->path);
        return -1;
      }
      blob.reset(raw);
      out.data = std::string_view(static_cast<const char*>(git_blob_rawcontent(raw)),
                                  static_cast<size_t>(git_blob_rawsize(raw)));
      break;
    }
    default:
      state->status = Status::InvalidArgument(state->path + " has an unsupported file mode");
      return -1;
  }
  state->status = (*state->visit)(out);
  return state->status.ok() ? 0 : -1;
}

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
  EnsureLibgit2();
  if (PathExists(path)) return Status::AlreadyExists(path + " already exists");
  std::string tmp = DirName(path) + "/.tmp-" + std::to_string(::getpid()) + "-" +
                    path.substr(path.rfind('/') + 1);
  PG_RETURN_IF_ERROR(RemoveTree(tmp));
  // The init function rather than the _INIT macro, which clang flags for
  // the fields it leaves to zero-initialization.
  git_repository_init_options opts;
  git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
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

GitRepo::~GitRepo() {
  if (repo_ != nullptr) git_repository_free(repo_);
}

GitRepo::GitRepo(GitRepo&& other) noexcept : repo_(std::exchange(other.repo_, nullptr)) {}

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

Result<CommitInfo> GitRepo::ResolveCommit(std::string_view id) const {
  PG_ASSIGN_OR_RETURN(CommitPtr commit, PeelToCommit(repo_, id));
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
  PG_ASSIGN_OR_RETURN(CommitPtr commit, PeelToCommit(repo_, commit_id));
  git_tree* raw = nullptr;
  int rc = git_commit_tree(&raw, commit.get());
  if (rc != 0) return GitStatus(rc, "read the tree of " + std::string(commit_id));
  TreePtr tree(raw);
  WalkState state{repo_, &visit, Status::OK(), {}};
  rc = git_tree_walk(tree.get(), GIT_TREEWALK_PRE, WalkCallback, &state);
  if (!state.status.ok()) return state.status;
  if (rc != 0) return GitStatus(rc, "walk the tree of " + std::string(commit_id));
  return Status::OK();
}

}  // namespace pushgate
