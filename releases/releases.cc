#include "releases/releases.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/duration.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/names.h"
#include "util/random_id.h"

namespace pushgate {
namespace {

constexpr char kRecordSuffix[] = ".release";
constexpr char kBuildsDir[] = "builds";
constexpr char kLastBuild[] = "last";

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A request id names a log file: pushgate makes them of hex digits.
bool IsValidRequestId(std::string_view id) { return !id.empty() && id.size() <= 64 && IsHex(id); }

std::string RecordPath(const std::string& app_dir, const std::string& name) {
  return app_dir + "/" + name + kRecordSuffix;
}

std::string BuildLogName(std::string_view request_id) { return std::string(request_id) + ".log"; }

std::string EncodeRecord(const ReleaseRecord& r) {
  std::string out;
  out += "version=" + std::to_string(r.version) + "\n";
  out += "commit=" + r.commit + "\n";
  out += "pusher=" + r.pusher + "\n";
  out += "created_at=" + std::to_string(r.created_at) + "\n";
  out += "request_id=" + r.request_id + "\n";
  if (!r.rolled_back_by.empty()) out += "rolled_back_by=" + r.rolled_back_by + "\n";
  return out;
}

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Every field is checked as strictly as where it came from: a record is
// shown to pushers, and its request id names a file.
Result<ReleaseRecord> DecodeRecord(const std::string& name, std::string_view text) {
  ReleaseRecord r;
  r.name = name;
  r.version = ReleaseVersion(name);
  auto bad = [&name](std::string_view why) {
    return Status::Corruption("the record of release " + name + " is malformed (" + std::string(why) + ")");
  };
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return bad("no final newline");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("a line without '='");
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    int64_t number = 0;
    if (key == "version") {
      if (!ParseInt(value, &number) || number != r.version) return bad("version");
    } else if (key == "commit") {
      if (value.size() != 40 || !IsHex(value) || value.substr(0, 7) != name.substr(name.find('-') + 1)) {
        return bad("commit");
      }
      r.commit = value;
    } else if (key == "pusher") {
      if (!value.empty() && !IsValidPusher(value)) return bad("pusher");
      r.pusher = value;
    } else if (key == "created_at") {
      if (!ParseInt(value, &number)) return bad("created_at");
      r.created_at = number;
    } else if (key == "request_id") {
      if (!value.empty() && !IsValidRequestId(value)) return bad("request_id");
      r.request_id = value;
    } else if (key == "rolled_back_by") {
      if (!IsValidPusher(value)) return bad("rolled_back_by");
      r.rolled_back_by = value;
    }  // other keys: written by a newer pushgate, ignored
  }
  return r;
}

std::string VersionsText(const std::vector<ReleaseRecord>& releases) {
  std::string out;
  for (const ReleaseRecord& r : releases) out += (out.empty() ? "v" : ", v") + std::to_string(r.version);
  return out.empty() ? "none" : out;
}

}  // namespace

int ReleaseVersion(std::string_view name) {
  if (name.size() < 3 || name.front() != 'v') return 0;
  size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash < 2 || dash > 10) return 0;
  std::string_view sha = name.substr(dash + 1);
  if (sha.size() != 7 || !IsHex(sha)) return 0;
  int version = 0;
  for (char c : name.substr(1, dash - 1)) {
    if (c < '0' || c > '9') return 0;
    version = version * 10 + (c - '0');
  }
  return version;
}

Result<std::vector<std::string>> ListReleases(const std::string& app_dir) {
  if (!PathExists(app_dir)) return std::vector<std::string>();
  PG_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(app_dir));
  std::vector<std::string> releases;
  for (std::string& name : names) {
    if (ReleaseVersion(name) > 0) releases.push_back(std::move(name));
  }
  std::sort(releases.begin(), releases.end(),
            [](const std::string& a, const std::string& b) { return ReleaseVersion(a) < ReleaseVersion(b); });
  return releases;
}

Result<std::string> CurrentRelease(const std::string& app_dir) {
  char buf[256];
  std::string link = app_dir + "/current";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n < 0) {
    if (errno == ENOENT) return std::string();
    return Status::FromErrno(errno, "readlink " + link);
  }
  return std::string(buf, static_cast<size_t>(n));
}

Status SwitchCurrent(const std::string& app_dir, const std::string& name) {
  std::string link_tmp = app_dir + "/.current.tmp";
  (void)::unlink(link_tmp.c_str());  // a leftover of a killed deploy, usually absent
  if (::symlink(name.c_str(), link_tmp.c_str()) != 0) return Status::FromErrno(errno, "symlink " + link_tmp);
  if (::rename(link_tmp.c_str(), (app_dir + "/current").c_str()) != 0) {
    Status s = Status::FromErrno(errno, "switch " + app_dir + "/current");
    (void)::unlink(link_tmp.c_str());  // the error above is the one to report
    return s;
  }
  return Status::OK();
}

Status WriteReleaseRecord(const std::string& app_dir, const ReleaseRecord& record) {
  // Checked as DecodeRecord will check it: a record written is a record read.
  if (ReleaseVersion(record.name) != record.version || record.commit.size() != 40 || !IsHex(record.commit) ||
      (!record.pusher.empty() && !IsValidPusher(record.pusher)) ||
      (!record.request_id.empty() && !IsValidRequestId(record.request_id)) ||
      (!record.rolled_back_by.empty() && !IsValidPusher(record.rolled_back_by))) {
    return Status::InvalidArgument("invalid release record for " + record.name);
  }
  return WriteFileAtomically(RecordPath(app_dir, record.name), EncodeRecord(record), 0644);
}

Status RemoveRelease(const std::string& app_dir, const std::string& name) {
  // The record goes first: a release without a record is still listed, a
  // record without its release would not be.
  if (::unlink(RecordPath(app_dir, name).c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove the record of " + name);
  }
  return RemoveTree(app_dir + "/" + name);
}

Status RetireRelease(const std::string& app_dir, const std::string& name) {
  // The record goes first, as in RemoveRelease.
  if (::unlink(RecordPath(app_dir, name).c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove the record of " + name);
  }
  // The random part keeps the entry's name unique if a version's name comes
  // back (its releases all removed by hand) before an old entry is deleted.
  std::string retired = app_dir + "/" + std::string(kRetiredReleasePrefix) + name + "." + RandomHex(4);
  if (::rename((app_dir + "/" + name).c_str(), retired.c_str()) != 0) {
    return Status::FromErrno(errno, "move " + name + " out of the releases");
  }
  return Status::OK();
}

Result<int> RemoveRetiredReleases(const std::string& app_dir) {
  Result<std::vector<std::string>> names = ListDir(app_dir);
  if (!names.ok()) return names.status().IsNotFound() ? Result<int>(0) : Result<int>(names.status());
  int removed = 0;
  Status first;
  for (const std::string& name : *names) {
    if (!IsRetiredRelease(name)) continue;
    std::string path = app_dir + "/" + name;
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
      if (errno != ENOENT && first.ok()) first = Status::FromErrno(errno, "open " + path);
      continue;
    }
    if (::flock(dir.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && first.ok()) first = Status::FromErrno(errno, "lock " + path);
      continue;
    }
    Status deleted = RemoveTree(path);
    if (deleted.ok()) {
      ++removed;
    } else if (first.ok()) {
      first = deleted;
    }
  }
  if (!first.ok()) return first;
  return removed;
}

Result<std::vector<ReleaseRecord>> ListReleaseRecords(const std::string& app_dir) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> names, ListReleases(app_dir));
  PG_ASSIGN_OR_RETURN(std::string current, CurrentRelease(app_dir));
  std::vector<ReleaseRecord> out;
  for (const std::string& name : names) {
    ReleaseRecord record;
    Result<std::string> text = ReadSmallFile(RecordPath(app_dir, name), 64 << 10);
    if (text.ok()) {
      PG_ASSIGN_OR_RETURN(record, DecodeRecord(name, *text));
    } else if (text.status().IsNotFound()) {
      record.name = name;
      record.version = ReleaseVersion(name);
    } else {
      return text.status();
    }
    record.current = name == current;
    out.push_back(std::move(record));
  }
  return out;
}

std::string FormatReleaseList(const std::vector<ReleaseRecord>& releases) {
  std::string text;
  for (auto r = releases.rbegin(); r != releases.rend(); ++r) {
    text += r->current ? "* " : "  ";
    text += "v" + std::to_string(r->version) + "  " + r->name.substr(r->name.find('-') + 1) + "  ";
    text += (r->created_at > 0 ? FormatUnixTime(r->created_at) : std::string(20, '-')) + "  ";
    text += r->pusher.empty() ? "-" : r->pusher;
    if (!r->rolled_back_by.empty()) text += "  (rolled back to by " + r->rolled_back_by + ")";
    text += "\n";
  }
  return text;
}

Result<ReleaseRecord> RollBack(const std::string& app_dir, std::optional<int> version, const std::string& by) {
  PG_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, ListReleaseRecords(app_dir));
  auto current = std::find_if(releases.begin(), releases.end(), [](const ReleaseRecord& r) { return r.current; });
  std::vector<ReleaseRecord>::iterator target = releases.end();
  if (version) {
    target = std::find_if(releases.begin(), releases.end(),
                          [&](const ReleaseRecord& r) { return r.version == *version; });
    if (target == releases.end()) {
      return Status::InvalidArgument("release v" + std::to_string(*version) +
                                     " is not kept; the releases kept are " + VersionsText(releases));
    }
    if (target->current) return Status::InvalidArgument("v" + std::to_string(*version) + " is the current release");
  } else {
    if (current == releases.begin() || current == releases.end()) {
      return Status::InvalidArgument("there is no release before the current one to roll back to (releases kept: " +
                                     VersionsText(releases) + ")");
    }
    target = current - 1;
  }
  // The record first: if the switch fails, it only names who tried. A
  // release deployed before records were kept keeps having none.
  if (!target->commit.empty()) {
    target->rolled_back_by = by;
    PG_RETURN_IF_ERROR(WriteReleaseRecord(app_dir, *target));
  }
  PG_RETURN_IF_ERROR(SwitchCurrent(app_dir, target->name));
  target->current = true;
  return *target;
}

void BuildLogTail::Append(std::string_view bytes) {
  tail_.append(bytes);
  if (tail_.size() > 2 * kMaxBytes) {
    size_t drop = tail_.size() - kMaxBytes;
    cut_ += drop;
    tail_.erase(0, drop);
  }
}

std::string BuildLogTail::Text() const {
  size_t drop = tail_.size() > kMaxBytes ? tail_.size() - kMaxBytes : 0;
  uint64_t cut = cut_ + drop;
  if (cut == 0) return tail_;
  return "[pushgate: the first " + std::to_string(cut) + " bytes of this log were cut; the last " +
         std::to_string(kMaxBytes) + " are kept]\n" + tail_.substr(drop);
}

Status SaveBuildLog(const std::string& app_dir, const std::string& request_id, std::string_view log) {
  if (!IsValidRequestId(request_id)) return Status::InvalidArgument("invalid request id for a build log");
  std::string builds = app_dir + "/" + kBuildsDir;
  PG_RETURN_IF_ERROR(MakeDirs(builds, 0755));
  std::string name = BuildLogName(request_id);
  PG_RETURN_IF_ERROR(WriteFileAtomically(builds + "/" + name, log, 0644));
  std::string link_tmp = builds + "/.last.tmp";
  (void)::unlink(link_tmp.c_str());
  if (::symlink(name.c_str(), link_tmp.c_str()) != 0 ||
      ::rename(link_tmp.c_str(), (builds + "/" + kLastBuild).c_str()) != 0) {
    Status s = Status::FromErrno(errno, "point " + builds + "/last at " + name);
    (void)::unlink(link_tmp.c_str());  // the error above is the one to report
    return s;
  }
  // Only the logs of kept releases and the latest build stay.
  PG_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, ListReleaseRecords(app_dir));
  PG_ASSIGN_OR_RETURN(std::vector<std::string> logs, ListDir(builds));
  for (const std::string& log_name : logs) {
    if (log_name == name || log_name == kLastBuild) continue;
    bool kept = std::any_of(releases.begin(), releases.end(), [&](const ReleaseRecord& r) {
      return !r.request_id.empty() && BuildLogName(r.request_id) == log_name;
    });
    if (!kept) PG_RETURN_IF_ERROR(RemoveTree(builds + "/" + log_name));
  }
  return Status::OK();
}

Result<std::string> ReadBuildLog(const std::string& app_dir, std::optional<int> version) {
  std::string builds = app_dir + "/" + kBuildsDir;
  std::string path = builds + "/" + kLastBuild;
  if (version) {
    PG_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, ListReleaseRecords(app_dir));
    auto found = std::find_if(releases.begin(), releases.end(),
                              [&](const ReleaseRecord& r) { return r.version == *version; });
    if (found == releases.end()) {
      return Status::NotFound("release v" + std::to_string(*version) + " is not kept; the releases kept are " +
                              VersionsText(releases));
    }
    if (found->request_id.empty()) {
      return Status::NotFound("no build log is kept for v" + std::to_string(*version) +
                              " (it was deployed before pushgate kept build logs)");
    }
    path = builds + "/" + BuildLogName(found->request_id);
  }
  Result<std::string> log = ReadSmallFile(path, 2 * BuildLogTail::kMaxBytes);
  if (log.status().IsNotFound()) {
    return Status::NotFound(version ? "the build log of v" + std::to_string(*version) + " is not kept"
                                    : std::string("no build has run yet"));
  }
  return log;
}

}  // namespace pushgate
