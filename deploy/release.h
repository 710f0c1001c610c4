// The bundled deploy: write the pushed tree as a numbered release of an app
// and switch the app's `current` link to it. The tree comes from the
// repository itself when the hook deploys (tree_export.h) or from a source
// archive when pushgate-deploy runs as (part of) a build command.
//
// Layout: releases/releases.h (a release directory, its record, `current`).
// A release is unpacked under a temporary name and renamed into place, and
// `current` is replaced by rename(2), so a reader of `current` sees the old
// release or the new one, never a partial one. Old releases beyond the
// newest `keep` are retired (renamed out of sight, releases/releases.h); the
// current one never is. Their trees are deleted afterwards
// (StartRemovingRetiredReleases), outside the pusher's wait. Callers
// serialize deploys of one app (the app lock).
//
// A deploy is durable once it returns: the tree is on disk before its
// record is written (with fsync) and before `current` switches, so after a
// power loss `current` names the new release or the one before, and either
// is whole. The renames are not fsynced one by one: a journalling file
// system commits them in order.
//
// A deploy is all or nothing: `current` switches last, after every step
// that can fail (unpacking, renaming, retiring old releases), and a deploy
// that fails or is stopped removes what it made. A deploy killed outright
// leaves a staging directory (kReleaseStagingPrefix), which the next deploy
// of the app removes (under the app lock), as does the reaper.
#ifndef PUSHGATE_DEPLOY_RELEASE_H_
#define PUSHGATE_DEPLOY_RELEASE_H_

#include <functional>
#include <string>
#include <vector>

#include "releases/releases.h"
#include "util/fs.h"
#include "util/status.h"

namespace pushgate {

// Fills the existing, empty directory `dir` with the release's files,
// calling `checkpoint` as it goes and stopping at its first error.
using TreeWriter = std::function<Status(const std::string& dir, const std::function<Status()>& checkpoint)>;

// The tree from the source archive at `path`, whose sha256 (when not empty)
// is checked before anything is unpacked.
TreeWriter FromSourceArchive(std::string path, std::string sha256);

struct DeployRequest {
  std::string releases_dir;  // data_dir/releases
  std::string app;
  std::string commit;        // 40 hex digits
  TreeWriter write_tree;
  int keep = 5;
  // For the release's record (releases/releases.h).
  std::string pusher;      // PUSHGATE_USER
  std::string request_id;  // PUSHGATE_REQUEST_ID
  int64_t created_at = 0;  // unix seconds
  // Runs while the tree is written; an error stops the deploy (pushgate-deploy stops
  // when it is signalled) and is returned.
  std::function<Status()> checkpoint;
  // Puts the written tree on disk before its record is written and
  // `current` switches to it, given a descriptor of the release directory
  // opened before the tree was written. Tests inject failures here.
  std::function<Status(int release_dir_fd)> make_durable = SyncFileSystem;
};

struct DeployResult {
  int version = 0;
  std::string name;  // "v3-1a2b3c4"
  std::string path;
  std::string warning;  // an old release that could not be retired after the switch
  int retired = 0;      // old releases this deploy retired
};

Result<DeployResult> DeployRelease(const DeployRequest& request);

// Deletes the app's retired releases in a detached child (util/process.h
// RunDetached), so that neither the deploy nor the pusher waits for their
// unlinks: an app of thousands of files takes seconds to delete. A child
// that fails or dies leaves its entries to the next deploy's child and to
// the reaper, which logs what it cannot delete. It starts whenever the app
// has a retired release, so one that an earlier, failed deploy retired goes
// too. For single-threaded callers.
Status StartRemovingRetiredReleases(const DeployRequest& request);

}  // namespace pushgate

#endif  // PUSHGATE_DEPLOY_RELEASE_H_
