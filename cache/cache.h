// The LMDB key cache under data_dir/db: public keys by OpenSSH SHA256
// fingerprint, shared by both modes.
//
// In standalone mode the `pushgate` CLI writes it (together with the
// registry's users and apps tables, in the same environment and the same
// transactions); in controller mode the sync process fills it from the
// controller. pushgate-keys only ever reads it.
//
// Concurrency: any number of processes may read while one writes; LMDB's MVCC
// means readers never wait for the writer and never see a half-applied write
// transaction. Writers are serialized by LMDB's own writer lock.
//
// Failure: every call returns a Status. A record that does not decode is
// reported as Corruption and never returned as data.
#ifndef PUSHGATE_CACHE_CACHE_H_
#define PUSHGATE_CACHE_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/lmdb.h"
#include "util/status.h"

namespace pushgate {

// A public key as stored: everything needed to print an authorized_keys line
// and to list keys, nothing more.
struct KeyRecord {
  std::string user;
  std::string type;     // "ssh-ed25519", validated against the allowlist
  std::string blob;     // base64 key blob exactly as sshd passes it in %k
  std::string comment;  // free text, never printed on an authorized_keys line
  int64_t added_at = 0; // unix seconds

  bool operator==(const KeyRecord&) const = default;
};

std::string EncodeKeyRecord(const KeyRecord& record);
Result<KeyRecord> DecodeKeyRecord(std::string_view data);

// The named databases of the environment.
enum class Table {
  kMeta,      // schema version and sync state: name -> value
  kKeys,      // "SHA256:..." -> EncodeKeyRecord
  kUserKeys,  // user '\0' fingerprint -> "" (index for listing a user's keys)
  kUsers,     // user -> created-at (standalone registry)
  kApps,      // app -> created-at (standalone registry)
  kMembers,   // app '\0' user -> "" (standalone registry)
};
inline constexpr int kTableCount = 6;

class KeyCache {
 public:
  enum class Access { kReadOnly, kReadWrite };

  // Opens (read-write: creates) the environment in `dir`. A read-only open of
  // a missing or empty environment fails with NotFound.
  static Result<std::unique_ptr<KeyCache>> Open(const std::string& dir, Access access);

  ~KeyCache();
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  Result<lmdb::Txn> BeginRead() const;
  Result<lmdb::Txn> BeginWrite();

  // The handle of `table`; tables missing from a read-only environment are
  // reported by HasTable and must not be used.
  MDB_dbi dbi(Table table) const { return dbis_[static_cast<int>(table)]; }
  bool HasTable(Table table) const { return present_[static_cast<int>(table)]; }

  // Key records. PutKey keeps the per-user index in step, also when a
  // fingerprint moves from one user to another.
  Result<std::optional<KeyRecord>> GetKey(const lmdb::Txn& txn, std::string_view fingerprint) const;
  Status PutKey(lmdb::Txn& txn, std::string_view fingerprint, const KeyRecord& record);
  // Adds the key only if its fingerprint is absent (one B-tree search, for
  // bulk imports). Returns the existing record, untouched, if there is one.
  Result<std::optional<KeyRecord>> InsertKey(lmdb::Txn& txn, std::string_view fingerprint,
                                             const KeyRecord& record);
  Result<bool> DeleteKey(lmdb::Txn& txn, std::string_view fingerprint);
  // Fingerprints of `user`'s keys, sorted.
  Result<std::vector<std::string>> UserKeyFingerprints(const lmdb::Txn& txn, std::string_view user) const;

  // One-shot lookup in its own read transaction: the keys helper's hot path.
  Result<std::optional<KeyRecord>> Lookup(std::string_view fingerprint) const;

  // Writes a compacted, consistent copy of the environment to `fd` while
  // readers and writers carry on.
  Status CopyCompactTo(int fd) const;

 private:
  explicit KeyCache(lmdb::EnvPtr env) : env_(std::move(env)) {}
  Status OpenTables(Access access);

  lmdb::EnvPtr env_;
  MDB_dbi dbis_[kTableCount] = {};
  bool present_[kTableCount] = {};
};

// user '\0' suffix: the composite keys of kUserKeys and kMembers.
std::string CompositeKey(std::string_view first, std::string_view second);

}  // namespace pushgate

#endif  // PUSHGATE_CACHE_CACHE_H_
