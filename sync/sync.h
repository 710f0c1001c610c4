// Keeping the key cache in step with the platform controller.
//
// SyncFromFeed pulls the delta feed from the cache's revision. Each page is
// validated and applied in one write transaction together with its revision,
// so a crash at any point leaves the cache at a consistent earlier revision
// and the next sync resumes there. A 410 (history compacted) starts a full
// resync into the staging key set, one transaction per page, made active in
// the transaction of its last page. An interrupted resync is not resumed:
// the controller may have forgotten deletes meanwhile, so the next sync
// (which gets 410 again, the active set being at its old revision) starts
// the walk over from an empty staging set.
//
// Without a delta feed (404), LookupKeyOwner asks about one key by its MD5
// fingerprint, caching the answer with its time (positive) or remembering
// the key as unknown until an expiry (negative).
//
// Every key from the controller is parsed with libssh before it is stored:
// options, control characters, a type that does not match the blob or a
// fingerprint that does not match the key reject the change. A rejected put
// also removes whatever the cache held for that fingerprint, so a bad answer
// can only deny, never grant. Rejections are logged and counted.
//
// Callers hold the sync lock (DataDir::SyncLock) around these calls.
#ifndef PUSHGATE_SYNC_SYNC_H_
#define PUSHGATE_SYNC_SYNC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache.h"
#include "controller/api.h"
#include "util/duration.h"
#include "util/status.h"

namespace pushgate {

struct SyncOptions {
  size_t page_limit = 10000;
  int64_t now_ms = 0;
  int min_rsa_bits = 2048;  // shorter RSA keys from the controller are rejected
};

struct SyncReport {
  enum class Outcome {
    kSynced,   // the cache is at the controller's current revision
    kNoFeed,   // the controller has no delta feed; use LookupKey
  } outcome = Outcome::kSynced;
  bool resynced = false;  // a full resync (410, or resumed) happened
  uint64_t from_revision = 0;
  uint64_t revision = 0;
  size_t pages = 0;
  size_t puts = 0;
  size_t deletes = 0;
  size_t rejected = 0;
};

Result<SyncReport> SyncFromFeed(KeyCache& cache, KeySource& source, const SyncOptions& options);

struct LookupOutcome {
  bool known = false;  // the controller knows the key (now cached) or not (negative entry)
  std::string username;
};

// Lookup mode: asks the controller about the key "TYPE BLOB" and records the
// answer. The key is parsed first: a malformed key never reaches the controller.
Result<LookupOutcome> LookupKey(KeyCache& cache, KeySource& source, std::string_view type, std::string_view blob,
                                int64_t now_ms, Duration negative_ttl);

// Records a failed sync attempt (for status and logs); successful ones are
// recorded by the transaction that applies them.
Status RecordSyncFailure(KeyCache& cache, const Status& error, int64_t now_ms);

}  // namespace pushgate

#endif  // PUSHGATE_SYNC_SYNC_H_
