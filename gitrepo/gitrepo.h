// pushgate's access to git repositories, through git itself: creating the
// bare repositories pushgate serves (`git init`), and, from a hook inside
// git's quarantine, resolving pushed commits, walking their trees and
// reading their files through one `git cat-file --batch-command` per
// GitRepo. git is on every push's path anyway and starts in about 2 ms; a
// library (libgit2 was) costs the hook 17 ms at each start, 10 of them
// parsing the system's CA bundle it never uses here.
#ifndef PUSHGATE_GITREPO_GITREPO_H_
#define PUSHGATE_GITREPO_GITREPO_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gitrepo/objects.h"
#include "util/status.h"

namespace pushgate {

// Creates a bare repository at `path` with the given config entries
// (key, value), running the git at `git_path`. The repository appears atomically: it is built in a
// temporary directory beside `path` and renamed into place, so a crash leaves
// no half-initialized repository. AlreadyExists if `path` exists (the caller
// may then simply use it).
Status CreateBareRepository(const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& config,
                            const std::string& git_path);

// Removes what a git process killed while writing to the repository at
// `path` leaves behind, which would otherwise refuse every later push ("cannot
// lock ref ... File exists") or hold disk space: lock files (refs/**/*.lock,
// HEAD.lock, packed-refs.lock, config.lock, shallow.lock) and quarantine
// directories (see IsQuarantineDirName). Only correct while nothing else
// writes to the repository: pushgate-shell calls it holding the app lock,
// under which every git process that writes to a repository runs. Returns
// the paths removed, relative to `path`.
Result<std::vector<std::string>> RemoveLeftoversOfKilledGit(const std::string& path);

// Whether `name`, in a repository's objects/, is the quarantine directory
// of a push: objects/tmp_objdir-incoming-* as current git names it (2.39
// here), or objects/incoming-* as older git did.
bool IsQuarantineDirName(std::string_view name);

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

  // The git program answering (default /usr/bin/git); set before the first question.
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
  // non-OK Status. Memory stays bounded whatever the size: the blob streams
  // from cat-file, never whole in memory. An error leaves the GitRepo usable
  // (the next question starts a new cat-file).
  Status ReadBlob(const ObjectId& id, uint64_t size, const std::function<Status(std::string_view)>& chunk) const;

 private:
  class CatFile;
  struct ObjectHeader;
  explicit GitRepo(std::string git_dir);
  // Started on the first question, restarted after an error left it mid-answer.
  Result<CatFile*> cat_file() const;
  // The contents of object `id` (lowercase hex), which must be of `type`.
  Result<std::string> ReadObject(const std::string& id, std::string_view type, const std::string& what) const;
  Result<std::vector<ObjectHeader>> ReadHeaders(const std::vector<std::string>& ids) const;
  // `id` checked, read and parsed; `hex` gets its lowercase form.
  Result<ParsedCommit> ReadCommit(std::string_view id, std::string* hex) const;
  // The entry at `path`; it points into `storage`.
  Result<RawTreeEntry> EntryAt(std::string_view commit_id, const std::string& path, std::string* storage) const;

  std::string git_dir_;
  std::string git_path_ = "/usr/bin/git";
  mutable std::unique_ptr<CatFile> cat_file_;
};

}  // namespace pushgate

#endif  // PUSHGATE_GITREPO_GITREPO_H_
