#include "data-dir/drain.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate {
Result<bool> IsDraining(const DataDir& dirs) {
  if (::access(dirs.DrainSwitch().c_str(), F_OK) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::FromErrno(errno, "check " + dirs.DrainSwitch());
}

Status SetDraining(const DataDir& dirs, bool draining) {
  if (!draining) {
    if (::unlink(dirs.DrainSwitch().c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "remove " + dirs.DrainSwitch());
    }
    return Status::OK();
  }
  PG_RETURN_IF_ERROR(MakeDirs(dirs.root(), 0750));
  // Its existence is the flag; the text is for whoever finds it.
  UniqueFd fd(::open(dirs.DrainSwitch().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + dirs.DrainSwitch());
  return WriteAll(fd.get(), "new pushes are refused while this file exists (pushgate drain off)\n");
}

Result<int> PushesInFlight(const DataDir& dirs) {
  Result<std::vector<std::string>> locks = ListDir(dirs.Locks());
  if (!locks.ok()) return locks.status().IsNotFound() ? Result<int>(0) : Result<int>(locks.status());
  int held = 0;
  for (const std::string& name : *locks) {
    std::string app = AppOfLockFile(name);
    if (app.empty()) continue;
    PG_ASSIGN_OR_RETURN(bool locked, FileLock::IsHeld(dirs.AppLock(app)));
    if (locked) ++held;
  }
  return held;
}

std::string DrainingMessage(std::string_view app) {
  return std::string(app) + " deploys are paused for maintenance, try again shortly";
}

}  // namespace pushgate
