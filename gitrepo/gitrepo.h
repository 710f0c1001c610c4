// The one adapter between pushgate and libgit2: creating the bare
// repositories pushgate serves, opening them from a hook (inside git's
// quarantine), resolving pushed commits and walking their trees.
#ifndef PUSHGATE_GITREPO_GITREPO_H_
#define PUSHGATE_GITREPO_GITREPO_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

struct git_repository;

namespace pushgate {

// Creates a bare repository at `path` with the given config entries
// (key, value). The repository appears atomically: it is built in a
// temporary directory beside `path` and renamed into place, so a crash leaves
// no half-initialized repository. AlreadyExists if `path` exists (the caller
// may then simply use it).
Status CreateBareRepository(const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& config);

// Removes what a git process killed while writing to the repository at
// `path` leaves behind, which would otherwise refuse every later push ("cannot
// lock ref ... File exists") or hold disk space: lock files (refs/**/*.lock,
// HEAD.lock, packed-refs.lock, config.lock, shallow.lock) and quarantine
// directories (objects/incoming-*). Only correct while nothing else writes to
// the repository: pushgate-shell calls it holding the app lock, under which
// every git process that writes to a repository runs. Returns the paths
// removed, relative to `path`.
Result<std::vector<std::string>> RemoveLeftoversOfKilledGit(const std::string& path);

struct CommitInfo {
  std::string id;       // 40 hex digits
  int64_t time = 0;     // committer time, unix seconds
  std::string summary;  // first line of the message
};

// A git object id (SHA-1), as raw bytes.
struct ObjectId {
  unsigned char bytes[20] = {};
  std::string Hex() const;
};

// One entry of a commit's tree as a walk sees it. File contents are not read
// during the walk (ReadBlob streams them): a walk costs one object header per
// file, whatever the files' sizes.
struct TreeEntry {
  enum class Kind { kDirectory, kFile, kExecutable, kSymlink, kSubmodule };
  std::string_view path;         // relative, '/'-separated, no leading '/'
  Kind kind;
  int depth = 1;                 // path components: "a" is 1, "a/b" is 2
  uint64_t size = 0;             // files: the blob's size in bytes
  std::string_view link_target;  // symlinks: the target, as stored
  ObjectId id;                   // the blob of a file or symlink
};

// A symlink target longer than this is refused by a walk: no file system
// would accept it, and its blob would otherwise be read whole.
inline constexpr uint64_t kMaxSymlinkTarget = 4096;

class GitRepo {
 public:
  ~GitRepo();
  GitRepo(GitRepo&&) noexcept;
  GitRepo& operator=(GitRepo&&) = delete;
  GitRepo(const GitRepo&) = delete;
  GitRepo& operator=(const GitRepo&) = delete;

  // Opens the repository the way git's own programs would from a hook: from
  // GIT_DIR, GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES.
  // During pre-receive the pushed objects are only visible this way (they sit
  // in the quarantine directory until the hook accepts them).
  static Result<GitRepo> OpenFromEnvironment();
  static Result<GitRepo> Open(const std::string& path);

  // The git program ReadBlob runs for large blobs (default /usr/bin/git).
  void set_git_path(std::string path) { git_path_ = std::move(path); }

  // The type of the object `id` (40 hex digits) names: "commit", "tag",
  // "tree" or "blob". NotFound if there is no such object.
  Result<std::string> ObjectType(std::string_view id) const;

  // `id` is 40 hex digits naming a commit object; anything else (a tag, even
  // one that peels to a commit) is InvalidArgument.
  Result<CommitInfo> ResolveCommit(std::string_view id) const;

  // Visits every entry of the commit's tree in a fixed order (git's tree
  // order, parents before children). Stops at the first non-OK Status.
  Status WalkTree(std::string_view commit_id, const std::function<Status(const TreeEntry&)>& visit) const;

  // The contents of the regular file at `path` (from the top of the
  // commit's tree), if it is at most `max_bytes`. NotFound if there is no
  // such file; InvalidArgument if it is a directory, a link or too large.
  Result<std::string> ReadFileAt(std::string_view commit_id, const std::string& path, uint64_t max_bytes) const;
  // Whether `path` is a regular file (not a directory or a link) in the commit.
  Result<bool> HasRegularFile(std::string_view commit_id, const std::string& path) const;

  // Hands the contents of the blob `id` (of `size` bytes, as a walk
  // reported) to `chunk` in pieces of at most 1 MiB, stopping at the first
  // non-OK Status. Memory stays bounded whatever the size: libgit2 reads a
  // blob whole, so blobs above a few MiB are streamed through
  // `git cat-file --batch` instead, started once per GitRepo and sharing the
  // repository's environment (a hook's quarantine included).
  Status ReadBlob(const ObjectId& id, uint64_t size, const std::function<Status(std::string_view)>& chunk) const;

 private:
  class BlobStream;
  explicit GitRepo(git_repository* repo);
  git_repository* repo_;
  std::string git_path_ = "/usr/bin/git";
  mutable std::unique_ptr<BlobStream> stream_;
};

}  // namespace pushgate

#endif  // PUSHGATE_GITREPO_GITREPO_H_
