#include "config/drain.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate {
namespace {

std::string DrainPath(const Config& config) { return config.data_dir + "/drain"; }

}  // namespace

Result<bool> IsDraining(const Config& config) {
  if (::access(DrainPath(config).c_str(), F_OK) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::FromErrno(errno, "check " + DrainPath(config));
}

Status SetDraining(const Config& config, bool draining) {
  if (!draining) {
    if (::unlink(DrainPath(config).c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "remove " + DrainPath(config));
    }
    return Status::OK();
  }
  PG_RETURN_IF_ERROR(MakeDirs(config.data_dir, 0750));
  // Its existence is the flag; the text is for whoever finds it.
  UniqueFd fd(::open(DrainPath(config).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + DrainPath(config));
  return WriteAll(fd.get(), "new pushes are refused while this file exists (pushgate drain off)\n");
}

Result<int> PushesInFlight(const Config& config) {
  Result<std::vector<std::string>> locks = ListDir(config.LocksDir());
  if (!locks.ok()) return locks.status().IsNotFound() ? Result<int>(0) : Result<int>(locks.status());
  int held = 0;
  for (const std::string& name : *locks) {
    std::string app = AppOfLockFile(name);
    if (app.empty()) continue;
    PG_ASSIGN_OR_RETURN(bool locked, FileLock::IsHeld(config.AppLockPath(app)));
    if (locked) ++held;
  }
  return held;
}

std::string DrainingMessage(std::string_view app) {
  return std::string(app) + " deploys are paused for maintenance, try again shortly";
}

}  // namespace pushgate
