// What pushgate keeps of an app's releases, in data_dir/releases/APP:
//
//   vN-SHORTSHA/          a release's tree (made by the bundled deploy, deploy/)
//   vN-SHORTSHA.release   its record: who pushed it, when, from which request
//   current -> vN-...     the live release (a relative symlink)
//   builds/REQUEST.log    the log of a build, as the pusher saw it
//   builds/last -> ...    the log of the latest build, deployed or not
//   .retired-vN-...       a release pruned by a deploy, out of every
//                         listing, until its deletion (RemoveRetiredReleases)
//
// Readers (listing, `logs`) need no lock: every file is replaced by
// rename(2), so they see an old version or a new one, never part of one.
// Writers (a deploy, a rollback, saving a log) hold the app's lock, the
// same lock a push holds, so they never interleave.
#ifndef PUSHGATE_RELEASES_RELEASES_H_
#define PUSHGATE_RELEASES_RELEASES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace pushgate {

// The name prefix of a retired release (RetireRelease).
inline constexpr std::string_view kRetiredReleasePrefix = ".retired-";

// Whether `name`, an entry of an app's directory, is a retired release.
inline bool IsRetiredRelease(std::string_view name) {
  return name.substr(0, kRetiredReleasePrefix.size()) == kRetiredReleasePrefix;
}

struct ReleaseRecord {
  int version = 0;
  std::string name;            // "v3-1a2b3c4"
  std::string commit;          // 40 hex digits; empty for a release made before records were kept
  std::string pusher;          // a user or "deploy-key:NAME"; empty if unknown
  int64_t created_at = 0;      // unix seconds
  std::string request_id;      // the push's request id: names its build log
  std::string rolled_back_by;  // who last made it current again by a rollback, if anyone
  bool current = false;        // set by ListReleaseRecords
};

// The N of "vN-xxxxxxx" (seven lowercase hex digits), or 0 if `name` is not
// a release directory's name.
int ReleaseVersion(std::string_view name);

// Release directory names in `app_dir`, oldest first. An app with no
// releases yet (no directory) has none.
Result<std::vector<std::string>> ListReleases(const std::string& app_dir);

// The release `current` names, or "" if there is none.
Result<std::string> CurrentRelease(const std::string& app_dir);

// Points `current` at release `name` atomically.
Status SwitchCurrent(const std::string& app_dir, const std::string& name);

// Writes (replaces) the record beside release `record.name`.
Status WriteReleaseRecord(const std::string& app_dir, const ReleaseRecord& record);

// Removes release `name`: its tree and its record.
Status RemoveRelease(const std::string& app_dir, const std::string& name);

// Takes release `name` out of the app at once, without deleting its tree:
// the record goes, and the tree is renamed to a `.retired-` entry, which no
// listing shows. Deleting a big tree takes seconds, which a deploy need not
// spend in the pusher's wait; RemoveRetiredReleases does it afterwards.
Status RetireRelease(const std::string& app_dir, const std::string& name);

// Deletes the app's retired releases and returns how many went. Each is
// deleted under an flock of its own directory: one whose deletion another
// process is running is skipped, so a deleter that dies leaves its entry for
// the next one, and two never work on one tree. No app lock is needed, as
// nothing else touches a retired entry.
Result<int> RemoveRetiredReleases(const std::string& app_dir);

// Every release with its record, oldest first, the current one marked. A
// release without a record (deployed before they were kept) is listed with
// what its name says; a record that does not parse is Corruption.
Result<std::vector<ReleaseRecord>> ListReleaseRecords(const std::string& app_dir);

// The releases newest first, one line each, for people: "* " marks the
// current one, then version, short commit, time (UTC) and pusher.
std::string FormatReleaseList(const std::vector<ReleaseRecord>& releases);

// Makes release `version` current again, or, without one, the newest
// release older than the current one. `by` (who asked) is written to its
// record. InvalidArgument, with the versions there are, if there is no
// such release or it is current already. The caller holds the app lock.
Result<ReleaseRecord> RollBack(const std::string& app_dir, std::optional<int> version, const std::string& by);

// A build's log as it is kept: at most kMaxBytes, the tail when it is
// longer, after a line that says how much was cut.
class BuildLogTail {
 public:
  static constexpr size_t kMaxBytes = 1 << 20;
  void Append(std::string_view bytes);
  std::string Text() const;

 private:
  std::string tail_;  // up to twice kMaxBytes, so that cutting is amortized
  uint64_t cut_ = 0;
};

// Saves the log of the build of request `request_id` and makes it the
// latest. Logs that belong neither to a kept release nor to the latest
// build are removed. The caller holds the app lock.
Status SaveBuildLog(const std::string& app_dir, const std::string& request_id, std::string_view log);

// The log of the latest build, or of release `version`'s build. NotFound,
// saying what there is, if that log is not kept.
Result<std::string> ReadBuildLog(const std::string& app_dir, std::optional<int> version);

}  // namespace pushgate

#endif  // PUSHGATE_RELEASES_RELEASES_H_
