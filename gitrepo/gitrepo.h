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

struct TreeEntry {
  enum class Kind { kDirectory, kFile, kExecutable, kSymlink, kSubmodule };
  std::string_view path;  // relative, '/'-separated, no leading '/'
  Kind kind;
  std::string_view data;  // file contents or symlink target; empty otherwise
};

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

  // `id` is 40 hex digits naming a commit (or a tag that peels to one).
  Result<CommitInfo> ResolveCommit(std::string_view id) const;

  // Visits every entry of the commit's tree in a fixed order (git's tree
  // order, parents before children). Stops at the first non-OK Status.
  Status WalkTree(std::string_view commit_id, const std::function<Status(const TreeEntry&)>& visit) const;

 private:
  explicit GitRepo(git_repository* repo) : repo_(repo) {}
  git_repository* repo_;
};

}  // namespace pushgate

#endif  // PUSHGATE_GITREPO_GITREPO_H_
