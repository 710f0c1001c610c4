// The release tree written straight from the object database: what the
// bundled deploy unpacks, without making and reading a gzip archive first.
//
// The result is the same as extracting the commit's source archive
// (source-archive/source_archive.h): git's modes (files 0644 or 0755,
// directories 0755, symlinks as stored, submodules as empty directories),
// every mtime the commit time, nothing written outside the destination.
#ifndef PUSHGATE_DEPLOY_TREE_EXPORT_H_
#define PUSHGATE_DEPLOY_TREE_EXPORT_H_

#include <functional>
#include <string>
#include <string_view>

#include "gitrepo/gitrepo.h"
#include "util/status.h"

namespace pushgate {

// Writes the tree of the commit `commit_id` into the existing, empty
// directory `dest`. Every entry is created relative to a descriptor of its
// parent, which this function made itself (O_NOFOLLOW, O_EXCL): a name that
// is not a single path component, or a path through a symlink of the same
// tree, is InvalidArgument, so nothing lands outside `dest` whatever the tree
// holds. File contents are streamed (GitRepo::ReadBlob). `checkpoint` runs
// before each entry and each piece of a file; its error stops the export and
// is returned. On failure `dest` holds a partial tree for the caller to remove.
Status ExportTree(const GitRepo& repo, std::string_view commit_id, const std::string& dest,
                  const std::function<Status()>& checkpoint = {});

}  // namespace pushgate

#endif  // PUSHGATE_DEPLOY_TREE_EXPORT_H_
