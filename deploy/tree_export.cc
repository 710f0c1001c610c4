#include "deploy/tree_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

bool IsSinglePathComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Creating an entry fails with EEXIST only when the tree names it twice
// (the destination starts empty): that is the tree's fault, not the disk's.
Status CreateFailed(int err, const std::string& what, std::string_view path) {
  if (err == EEXIST) {
    return Status::InvalidArgument("refusing tree entry \"" + std::string(path) + "\": the name appears twice");
  }
  return Status::FromErrno(err, what + " " + std::string(path));
}

// The directories from `dest` down to the parent of the entry being written,
// each open. A walk visits parents before children, depth first, so the
// entry at depth d lives in the directory at index d - 1, and every deeper
// directory is complete: its mtime is set as it is closed (creating children
// changed it).
class DirectoryChain {
 public:
  DirectoryChain(UniqueFd root, const struct timespec times[2]) : times_(times) {
    fds_.push_back(std::move(root));
    paths_.emplace_back();
  }
  ~DirectoryChain() { (void)CloseFrom(1); }
  DirectoryChain(const DirectoryChain&) = delete;
  DirectoryChain& operator=(const DirectoryChain&) = delete;

  // The descriptor of the parent of `entry`, once every deeper directory is
  // closed; InvalidArgument if the walk's order does not lead there.
  Result<int> ParentOf(const TreeEntry& entry, std::string_view* name) {
    size_t depth = static_cast<size_t>(entry.depth);
    if (depth < 1 || depth > fds_.size()) return Refuse(entry, "out of the tree's order");
    PG_RETURN_IF_ERROR(CloseFrom(depth));
    const std::string& parent = paths_.back();
    std::string_view path = entry.path;
    if (!parent.empty()) {
      if (path.size() <= parent.size() + 1 || path.compare(0, parent.size(), parent) != 0 ||
          path[parent.size()] != '/') {
        return Refuse(entry, "out of the tree's order");
      }
      path.remove_prefix(parent.size() + 1);
    }
    if (!IsSinglePathComponent(path)) return Refuse(entry, "not a plain file name");
    *name = path;
    return fds_.back().get();
  }

  Status Enter(const TreeEntry& entry, int parent, const std::string& name) {
    if (::mkdirat(parent, name.c_str(), 0755) != 0) return CreateFailed(errno, "mkdir", entry.path);
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return Status::FromErrno(errno, "open " + std::string(entry.path));
    // The umask must not decide a release's modes.
    if (::fchmod(fd.get(), 0755) != 0) return Status::FromErrno(errno, "chmod " + std::string(entry.path));
    fds_.push_back(std::move(fd));
    paths_.emplace_back(entry.path);
    return Status::OK();
  }

  Status Finish() { return CloseFrom(1); }

 private:
  static Status Refuse(const TreeEntry& entry, std::string_view why) {
    return Status::InvalidArgument("refusing tree entry \"" + std::string(entry.path) + "\": " + std::string(why));
  }

  Status CloseFrom(size_t depth) {
    Status first;
    while (fds_.size() > depth) {
      if (::futimens(fds_.back().get(), times_) != 0 && first.ok()) {
        first = Status::FromErrno(errno, "set the time of " + paths_.back());
      }
      fds_.pop_back();
      paths_.pop_back();
    }
    return first;
  }

  const struct timespec* times_;
  std::vector<UniqueFd> fds_;
  std::vector<std::string> paths_;
};

}  // namespace

Status ExportTree(const GitRepo& repo, std::string_view commit_id, const std::string& dest,
                  const std::function<Status()>& checkpoint) {
  PG_ASSIGN_OR_RETURN(CommitInfo commit, repo.ResolveCommit(commit_id));
  UniqueFd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return Status::FromErrno(errno, "open " + dest);
  const struct timespec times[2] = {{static_cast<time_t>(commit.time), 0}, {static_cast<time_t>(commit.time), 0}};
  DirectoryChain chain(std::move(root), times);
  std::string name;
  PG_RETURN_IF_ERROR(repo.WalkTree(commit.id, [&](const TreeEntry& e) -> Status {
    if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
    std::string_view base;
    PG_ASSIGN_OR_RETURN(int parent, chain.ParentOf(e, &base));
    name.assign(base);
    switch (e.kind) {
      case TreeEntry::Kind::kDirectory:
      case TreeEntry::Kind::kSubmodule:  // like git archive: an empty directory
        return chain.Enter(e, parent, name);
      case TreeEntry::Kind::kSymlink: {
        std::string target(e.link_target);
        if (::symlinkat(target.c_str(), parent, name.c_str()) != 0) {
          return CreateFailed(errno, "symlink", e.path);
        }
        if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
          return Status::FromErrno(errno, "set the time of " + std::string(e.path));
        }
        return Status::OK();
      }
      case TreeEntry::Kind::kFile:
      case TreeEntry::Kind::kExecutable: {
        mode_t mode = e.kind == TreeEntry::Kind::kExecutable ? 0755 : 0644;
        UniqueFd fd(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
        if (!fd.valid()) return CreateFailed(errno, "create", e.path);
        if (::fchmod(fd.get(), mode) != 0) return Status::FromErrno(errno, "chmod " + std::string(e.path));
        if (e.size > 0) {
          PG_RETURN_IF_ERROR(repo.ReadBlob(e.id, e.size, [&](std::string_view piece) -> Status {
            if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
            return WriteAll(fd.get(), piece).Annotate("write " + std::string(e.path));
          }));
        }
        if (::futimens(fd.get(), times) != 0) return Status::FromErrno(errno, "set the time of " + std::string(e.path));
        return Status::OK();
      }
    }
    return Status::Internal("unknown tree entry kind");
  }));
  return chain.Finish();
}

}  // namespace pushgate
