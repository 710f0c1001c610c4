#include "reaper/trash.h"

#include <stdio.h>

#include <cerrno>

#include "util/fs.h"
#include "util/lock.h"
#include "util/random_id.h"

namespace pushgate {

Status TrashRepository(const Config& config, const std::string& app) {
  PG_RETURN_IF_ERROR(MakeDirs(config.dirs().Trash(), 0750));
  std::string entry = config.dirs().Trash() + "/" + app + ".git." + RandomHex(4);
  if (::rename(config.dirs().Repo(app).c_str(), entry.c_str()) != 0) {
    return Status::FromErrno(errno, "move " + config.dirs().Repo(app) + " to the trash");
  }
  return RemoveTree(entry);
}

Status PurgeRepository(const Config& config, const std::string& app) {
  PG_RETURN_IF_ERROR(MakeDirs(config.dirs().Locks(), 0750));
  Result<FileLock> lock = FileLock::TryAcquire(config.dirs().AppLock(app));
  if (!lock.ok()) {
    if (lock.status().code() == Status::Code::kUnavailable) {
      return Status::Unavailable("a push to " + app + " is in progress; try again when it is done");
    }
    return lock.status();
  }
  Status trashed = TrashRepository(config, app);
  return trashed.IsNotFound() ? Status::OK() : trashed;
}

Result<int> FinishTrash(const Config& config) {
  Result<std::vector<std::string>> entries = ListDir(config.dirs().Trash());
  if (!entries.ok()) return entries.status().IsNotFound() ? Result<int>(0) : Result<int>(entries.status());
  int finished = 0;
  for (const std::string& entry : *entries) {
    PG_RETURN_IF_ERROR(RemoveTree(config.dirs().Trash() + "/" + entry));
    ++finished;
  }
  return finished;
}

}  // namespace pushgate
