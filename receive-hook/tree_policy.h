// What a pushed tree may be before anything is built from it: the [push]
// size and shape limits and the [deploy] symlink rule.
//
// The check reads only tree objects and blob headers, never file contents,
// so a tree of 1 GiB blobs (a few MB as a pack) is judged in milliseconds and
// refused before it can fill the disk or hold the app lock for minutes.
// Refusals are written for the pusher: what is wrong, the value and the limit.
#ifndef PUSHGATE_RECEIVE_HOOK_TREE_POLICY_H_
#define PUSHGATE_RECEIVE_HOOK_TREE_POLICY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "gitrepo/gitrepo.h"
#include "util/status.h"

namespace pushgate {

struct TreeLimits {
  uint64_t max_file_size = 0;
  uint64_t max_release_size = 0;
  int max_tree_depth = 0;
  int max_entries = 0;
  bool allow_external_symlinks = false;

  static TreeLimits FromConfig(const Config& config);
};

struct TreeSummary {
  uint64_t file_bytes = 0;  // what the release's files add up to
  uint64_t entries = 0;
};

// Judges a tree entry by entry (in a walk's order), then its symlinks as a
// whole: a link may lead through other links of the same tree.
class TreeChecker {
 public:
  explicit TreeChecker(const TreeLimits& limits) : limits_(limits) {}

  // InvalidArgument with the pusher's message at the first limit crossed.
  Status Visit(const TreeEntry& entry);
  // InvalidArgument if a symlink resolves outside the release (unless allowed).
  Result<TreeSummary> Finish() const;

 private:
  TreeLimits limits_;
  TreeSummary summary_;
  std::map<std::string, std::string, std::less<>> links_;  // path -> target
};

// True if the symlink at `link_path` (relative to the release root) with
// `target` resolves outside the release, following the tree's other `links`
// the way the kernel would: absolute targets, and ".." that climbs above the
// root, through any chain of links. A resolution that loops (ELOOP) or ends
// at a missing path cannot reach anything and stays inside.
bool SymlinkEscapes(std::string_view link_path, std::string_view target,
                    const std::map<std::string, std::string, std::less<>>& links);

// Walks the commit's tree through a TreeChecker. `checkpoint` runs before
// each entry (time limits, a pusher who left).
Result<TreeSummary> CheckTree(const GitRepo& repo, const std::string& commit_id, const TreeLimits& limits,
                              const std::function<Status()>& checkpoint = {});

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_TREE_POLICY_H_
