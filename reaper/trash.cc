#include "reaper/trash.h"

#include <stdio.h>

#include <cerrno>

#include "util/fs.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/random_id.h"

namespace pushgate {

Result<std::string> MoveToTrash(const Config& config, const std::string& app) {
  PG_RETURN_IF_ERROR(MakeDirs(config.dirs().Trash(), 0750));
  std::string entry = config.dirs().Trash() + "/" + app + ".git." + RandomHex(4);
  if (::rename(config.dirs().Repo(app).c_str(), entry.c_str()) != 0) {
    return Status::FromErrno(errno, "move " + config.dirs().Repo(app) + " to the trash");
  }
  return entry;
}

Status TrashRepository(const Config& config, const std::string& app) {
  PG_ASSIGN_OR_RETURN(std::string entry, MoveToTrash(config, app));
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

TrashEmptier::TrashEmptier(const std::atomic<bool>* stop) : stop_(stop) {
  for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
}

TrashEmptier::~TrashEmptier() { Finish(); }

void TrashEmptier::Add(std::string entry) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  queued_.notify_one();
}

TrashEmptier::Outcome TrashEmptier::Finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finishing_ = true;
  }
  queued_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return outcome_;
}

void TrashEmptier::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return finishing_ || !entries_.empty(); });
    if (entries_.empty() || (stop_ != nullptr && stop_->load())) return;
    std::string entry = std::move(entries_.front());
    entries_.pop_front();
    lock.unlock();
    Status removed = RemoveTree(entry);
    if (!removed.ok()) log::Error("cannot delete a trash entry", {{"path", entry}, {"error", removed.message()}});
    lock.lock();
    ++(removed.ok() ? outcome_.deleted : outcome_.failed);
  }
}

}  // namespace pushgate
