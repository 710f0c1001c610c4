#include "sync/sync_service.h"


#include <cerrno>
#include <chrono>

#include "util/duration.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/log.h"

namespace pushgate {
namespace {

struct Locked {
  FileLock lock;
  std::unique_ptr<KeyCache> cache;
};

// A sync that runs out of space fails with an error and leaves the active
// key set as it was (LMDB commits all or nothing, and a full resync only
// activates a completely written staging set). Refusing to start with less
// than this free turns the common case into a clear error before any work.
constexpr uint64_t kMinFreeBytes = uint64_t{8} << 20;

Status CheckFreeSpace(const Config& config) {
  PG_ASSIGN_OR_RETURN(uint64_t free_bytes, FreeBytes(config.data_dir));
  if (free_bytes >= kMinFreeBytes) return Status::OK();
  return Status::ResourceExhausted("the file system under " + config.data_dir + " is full (" +
                                   std::to_string(free_bytes >> 10) + " KB free, a sync needs at least " +
                                   std::to_string(kMinFreeBytes >> 20) + " MB); the key cache is unchanged");
}

Result<Locked> LockAndOpen(const Config& config, Duration wait) {
  PG_RETURN_IF_ERROR(CheckFreeSpace(config));
  PG_RETURN_IF_ERROR(MakeDirs(config.dirs().Locks(), 0750));
  PG_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(config.dirs().SyncLock(), wait, nullptr));
  PG_ASSIGN_OR_RETURN(std::unique_ptr<KeyCache> cache, KeyCache::Open(config.dirs().Db(), KeyCache::Access::kSyncWrite));
  return Locked{std::move(lock), std::move(cache)};
}

// A write that found no space says where, and what it left as it was.
// LMDB reports a short write at commit as EIO, so an I/O error on a file
// system with less than kMinFreeBytes left counts as a full one too.
template <typename T>
Result<T> ExplainFullDisk(const Config& config, Result<T> result) {
  if (result.ok()) return result;
  Status::Code code = result.status().code();
  bool full = code == Status::Code::kResourceExhausted;
  if (code == Status::Code::kIOError) {
    Result<uint64_t> free_bytes = FreeBytes(config.data_dir);
    full = free_bytes.ok() && *free_bytes < kMinFreeBytes;
  }
  if (!full) return result;
  return Status::ResourceExhausted("the file system under data_dir is full (" + config.data_dir +
                                   "): " + result.status().message() +
                                   "; the active key set is unchanged: free space and sync again");
}

// Records a failure without letting a bookkeeping error hide it.
template <typename T>
Result<T> Recorded(KeyCache& cache, Result<T> result, int64_t now_ms) {
  if (result.ok()) return result;
  Status recorded = RecordSyncFailure(cache, result.status(), now_ms);
  if (!recorded.ok()) log::Warn("cannot record the failed sync", {{"error", recorded.message()}});
  return result;
}

Result<bool> LookupFor(KeyCache& cache, KeySource& source, std::string_view type, std::string_view blob,
                       int64_t now_ms, Duration negative_ttl) {
  PG_ASSIGN_OR_RETURN(LookupOutcome outcome, LookupKey(cache, source, type, blob, now_ms, negative_ttl));
  return outcome.known;
}

}  // namespace

Result<SyncReport> SyncOnce(const Config& config, KeySource& source, const Clock& clock, Duration lock_wait) {
  PG_ASSIGN_OR_RETURN(Locked locked, LockAndOpen(config, lock_wait));
  int64_t now = clock();
  SyncOptions options;
  options.now_ms = now;
  options.min_rsa_bits = config.keys.min_rsa_bits;
  Result<SyncReport> report = ExplainFullDisk(config, SyncFromFeed(*locked.cache, source, options));
  if (report.ok() && report->outcome == SyncReport::Outcome::kNoFeed) {
    // Lookup mode keeps no feed to pull, but its negative entries still expire.
    PG_ASSIGN_OR_RETURN(lmdb::Txn txn, locked.cache->BeginWrite());
    PG_RETURN_IF_ERROR(locked.cache->SweepNegative(txn, now));
    PG_RETURN_IF_ERROR(txn.Commit());
  }
  return Recorded(*locked.cache, std::move(report), now);
}

Status SyncForKey(const Config& config, KeySource& source, std::string_view type, std::string_view blob,
                  const Clock& clock, Duration deadline) {
  int64_t asked_at = clock();
  PG_ASSIGN_OR_RETURN(Locked locked, LockAndOpen(config, deadline));
  KeyCache& cache = *locked.cache;
  std::string feed;
  int64_t synced_at;
  {
    PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginRead());
    PG_ASSIGN_OR_RETURN(std::optional<std::string> stored_feed, cache.GetMeta(txn, kMetaFeed));
    feed = stored_feed.value_or("");
    PG_ASSIGN_OR_RETURN(synced_at, cache.GetMetaInt(txn, kMetaSyncedAt));
  }
  // Another helper's sync finished while this one waited for the lock.
  if (feed == "delta" && synced_at >= asked_at) return Status::OK();

  int64_t now = clock();
  if (feed != "lookup") {
    SyncOptions options;
    options.now_ms = now;
    options.min_rsa_bits = config.keys.min_rsa_bits;
    Result<SyncReport> report = Recorded(cache, ExplainFullDisk(config, SyncFromFeed(cache, source, options)), now);
    if (!report.ok()) return report.status();
    if (report->outcome == SyncReport::Outcome::kSynced) return Status::OK();
  }
  return Recorded(cache, LookupFor(cache, source, type, blob, now, config.cache.negative_ttl), now).status();
}

}  // namespace pushgate
