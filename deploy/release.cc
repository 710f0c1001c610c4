#include "deploy/release.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "config/config.h"
#include "releases/releases.h"
#include "source-archive/sha256.h"
#include "source-archive/source_archive.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/names.h"
#include "util/process.h"

namespace pushgate {
namespace {

bool IsHexCommit(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Staging directories and link files of deploys that were killed.
Status RemoveStaleStaging(const std::string& app_dir) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(app_dir));
  for (const std::string& name : names) {
    if (name.rfind(kReleaseStagingPrefix, 0) == 0 || name == ".current.tmp") {
      PG_RETURN_IF_ERROR(RemoveTree(app_dir + "/" + name));
    }
  }
  return Status::OK();
}

// Retires the oldest releases beyond `keep`, never `current` nor `fresh`,
// each with its record; counts them in `retired`.
Status PruneReleases(const std::string& app_dir, int keep, const std::string& current, const std::string& fresh,
                     int* retired) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> releases, ListReleases(app_dir));
  int excess = static_cast<int>(releases.size()) - keep;
  for (int i = 0; i < excess; ++i) {
    const std::string& name = releases[static_cast<size_t>(i)];
    if (name == current || name == fresh) continue;
    PG_RETURN_IF_ERROR(RetireRelease(app_dir, name).Annotate("retire the old release " + name));
    ++*retired;
  }
  return Status::OK();
}

}  // namespace

TreeWriter FromSourceArchive(std::string path, std::string sha256) {
  return [path = std::move(path), sha256 = std::move(sha256)](const std::string& dir,
                                                              const std::function<Status()>& checkpoint) -> Status {
    if (!sha256.empty()) {
      PG_ASSIGN_OR_RETURN(std::string actual, Sha256OfFile(path));
      if (actual != sha256) return Status::Corruption("the source archive does not match its sha256 (" + actual + ")");
    }
    return ExtractSourceArchive(path, dir, checkpoint);
  };
}

Result<DeployResult> DeployRelease(const DeployRequest& request) {
  if (!IsValidAppName(request.app)) return Status::InvalidArgument("invalid app name " + request.app);
  if (!IsHexCommit(request.commit)) return Status::InvalidArgument("invalid commit id " + request.commit);
  if (request.keep < 1) return Status::InvalidArgument("keep must be at least 1");
  if (!request.write_tree) return Status::InvalidArgument("no source for the release");
  std::string app_dir = request.releases_dir + "/" + request.app;
  PG_RETURN_IF_ERROR(MakeDirs(app_dir, 0755));
  PG_RETURN_IF_ERROR(RemoveStaleStaging(app_dir));

  PG_ASSIGN_OR_RETURN(std::vector<std::string> releases, ListReleases(app_dir));
  PG_ASSIGN_OR_RETURN(std::string current, CurrentRelease(app_dir));
  DeployResult result;
  result.version = releases.empty() ? 1 : ReleaseVersion(releases.back()) + 1;
  result.name = "v" + std::to_string(result.version) + "-" + request.commit.substr(0, 7);
  result.path = app_dir + "/" + result.name;

  std::string staging = app_dir + "/" + std::string(kReleaseStagingPrefix) + result.name;
  if (::mkdir(staging.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + staging);
  // Opened before the tree is written: syncfs then also reports the tree's
  // write-back errors (util/fs.h).
  UniqueFd staging_fd(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Status extracted = staging_fd.valid() ? Status::OK() : Status::FromErrno(errno, "open " + staging);
  if (extracted.ok()) extracted = request.write_tree(staging, request.checkpoint);
  if (extracted.ok()) extracted = request.make_durable(staging_fd.get()).Annotate("write the release to disk");
  if (!extracted.ok()) {
    (void)RemoveTree(staging);
    return extracted;
  }
  // The record before the release: a release is never without its record.
  ReleaseRecord record{result.version, result.name, request.commit, request.pusher, request.created_at,
                       request.request_id, "", false};
  Status recorded = WriteReleaseRecord(app_dir, record);
  if (recorded.ok() && ::rename(staging.c_str(), result.path.c_str()) != 0) {
    recorded = Status::FromErrno(errno, "rename " + staging);
  }
  if (!recorded.ok()) {
    (void)RemoveRelease(app_dir, result.name);
    (void)RemoveTree(staging);
    return recorded;
  }
  // Everything that can fail happens before `current` moves; on failure the
  // new release goes and the app stays exactly as it was.
  Status ready = PruneReleases(app_dir, request.keep, current, result.name, &result.retired);
  if (ready.ok()) ready = SwitchCurrent(app_dir, result.name);
  if (!ready.ok()) {
    (void)RemoveRelease(app_dir, result.name);
    return ready;
  }
  // The release that was current until now may be beyond `keep` too. The
  // deploy is done whatever happens here; the next one tries again.
  Status tidied = PruneReleases(app_dir, request.keep, result.name, result.name, &result.retired);
  if (!tidied.ok()) result.warning = tidied.message();
  return result;
}

Status StartRemovingRetiredReleases(const DeployRequest& request) {
  std::string app_dir = request.releases_dir + "/" + request.app;
  PG_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(app_dir));
  if (std::none_of(names.begin(), names.end(), IsRetiredRelease)) return Status::OK();
  return RunDetached([&app_dir] { (void)RemoveRetiredReleases(app_dir); })
      .Annotate("start deleting the retired releases");
}

}  // namespace pushgate
