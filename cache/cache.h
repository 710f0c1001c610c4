// The LMDB key cache under data_dir/db: public keys by OpenSSH SHA256
// fingerprint, shared by both modes.
//
// Keys live in one of two key sets (each a keys table plus its per-user
// index); meta "key_set" names the active one. Every read and ordinary write
// goes to the active set. A full resync from the controller fills the other
// (staging) set page by page, one transaction per page, then makes it active
// in one small transaction: memory stays flat and readers never see a
// half-built key set.
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
//
// LMDB stays inside this module (lmdb.h is its one adapter): callers hold a
// transaction (lmdb::Txn) only as a handle that groups KeyCache's typed
// operations and commits them; every read and write goes through KeyCache.
#ifndef PUSHGATE_CACHE_CACHE_H_
#define PUSHGATE_CACHE_CACHE_H_

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/lmdb.h"
#include "util/enum_table.h"
#include "util/external_sort.h"
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
  // Controller lookup mode: when the controller last confirmed this key
  // (unix ms); 0 for keys that came from the registry or the delta feed.
  int64_t verified_at_ms = 0;

  bool operator==(const KeyRecord&) const = default;
};

// A record on disk: the key blob in binary behind a one-byte type code.
// Encoding fails (InvalidArgument) for a blob that is not canonical base64 or
// does not begin with its type.
Result<std::string> EncodeKeyRecord(const KeyRecord& record);
Result<KeyRecord> DecodeKeyRecord(std::string_view data);
// The owner of an encoded record, without decoding the rest.
Result<std::string_view> KeyRecordUser(std::string_view data);

// The 32-byte digest the tables are keyed by, from "SHA256:..." (OpenSSH's
// text; FingerprintText in util/ssh_wire.h is the way back). Anything but
// OpenSSH's exact text is refused.
Result<std::string> FingerprintDigest(std::string_view fingerprint);

// A key bound to one app of the standalone registry instead of to a user.
// Its key record sits in the keys table like any other, owned by
// DeployKeyOwner(app, name) (util/names.h).
struct DeployKeyEntry {
  std::string name;
  std::string fingerprint;
  bool push = false;  // may push; otherwise fetch only

  bool operator==(const DeployKeyEntry&) const = default;
};

// The named databases of the environment. kTables below names each, in
// this order (a static_assert checks it): adding a table is a line in each.
enum class Table {
  kMeta,       // schema version and sync state: name -> value
  kKeys,       // key set 0: 32-byte digest -> EncodeKeyRecord
  kUserKeys,   // key set 0: user '\0' the digest's first 8 bytes -> "" (index for listing a user's keys)
  kKeys1,      // key set 1
  kUserKeys1,  // key set 1
  kNegative,   // controller lookup mode: fingerprint -> unix ms until which it is known unknown
  kUsers,      // user -> created-at (standalone registry)
  kApps,       // app -> created-at (standalone registry)
  kMembers,    // app '\0' user -> "" (standalone registry)
  kDeployKeys, // app '\0' name -> EncodeDeployKey (standalone registry)
  kCaKeys,     // trusted user CA: "SHA256:..." -> "TYPE BASE64 COMMENT" (standalone registry)
  kPrincipals, // certificate principal -> user (standalone registry)
};

struct TableName {
  Table table;
  const char* name;  // the LMDB database's name: on disk, never renamed
};
inline constexpr TableName kTables[] = {
    {Table::kMeta, "meta"},         {Table::kKeys, "keys"},         {Table::kUserKeys, "user_keys"},
    {Table::kKeys1, "keys.1"},      {Table::kUserKeys1, "user_keys.1"}, {Table::kNegative, "negative"},
    {Table::kUsers, "users"},       {Table::kApps, "apps"},         {Table::kMembers, "members"},
    {Table::kDeployKeys, "deploy_keys"}, {Table::kCaKeys, "ca_keys"}, {Table::kPrincipals, "principals"},
};
inline constexpr int kTableCount = static_cast<int>(std::size(kTables));
static_assert(ListedInEnumOrder(kTables, &TableName::table), "kTables lists every Table, in the enum's order");

// The standalone registry's named things (name -> created-at, unix seconds).
enum class Names { kUsers, kApps };

// The standalone registry's string-to-string tables: trusted user CA keys
// by fingerprint, and certificate principals to the users they log in as.
enum class Mappings { kCaKeys, kPrincipals };

// Which key set an operation addresses.
enum class KeySet { kActive, kStaging };

// Names in the meta table.
inline constexpr std::string_view kMetaKeySet = "key_set";               // "0" or "1"
inline constexpr std::string_view kMetaRevision = "revision";            // applied controller revision
inline constexpr std::string_view kMetaSyncedAt = "synced_at_ms";        // last successful sync
inline constexpr std::string_view kMetaFeed = "feed";                    // "delta" or "lookup"
inline constexpr std::string_view kMetaLastAttempt = "last_attempt_ms";
inline constexpr std::string_view kMetaLastError = "last_error";         // "" after a success

// What the keys helper needs to answer, read in one transaction.
struct KeyLookup {
  std::optional<KeyRecord> record;
  int64_t synced_at_ms = 0;       // 0: never synced (or standalone)
  std::string feed;               // "delta", "lookup" or "" (not yet known)
  int64_t negative_until_ms = 0;  // 0: no negative answer cached for the key
};

class KeyCache {
 public:
  enum class Access {
    kReadOnly,
    kReadWrite,
    // Read-write for pushgate-sync, whose cache the controller can rebuild:
    // a commit flushes the data but not LMDB's meta page, so a system crash
    // can forget the last commit, which the next sync redoes.
    kSyncWrite,
  };

  // Opens (read-write: creates) the environment in `dir`. A read-only open of
  // a missing or empty environment fails with NotFound.
  static Result<std::unique_ptr<KeyCache>> Open(const std::string& dir, Access access);

  ~KeyCache();
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  Result<lmdb::Txn> BeginRead() const;
  Result<lmdb::Txn> BeginWrite();

  // A read-only open of an environment that no writer has created the
  // table in yet leaves it out.
  bool HasTable(Table table) const { return present_[static_cast<int>(table)]; }

  // The standalone registry: users and apps by name, and memberships (app,
  // user). Add* return false, and change nothing, if it was there already;
  // Remove* false if it was not there.
  Result<bool> HasName(const lmdb::Txn& txn, Names names, std::string_view name) const;
  Result<bool> AddName(lmdb::Txn& txn, Names names, std::string_view name, int64_t created_at);
  Result<bool> RemoveName(lmdb::Txn& txn, Names names, std::string_view name);
  Result<std::vector<std::string>> ListNames(const lmdb::Txn& txn, Names names) const;  // sorted
  Result<bool> HasMember(const lmdb::Txn& txn, std::string_view app, std::string_view user) const;
  Result<bool> AddMember(lmdb::Txn& txn, std::string_view app, std::string_view user);
  Result<bool> RemoveMember(lmdb::Txn& txn, std::string_view app, std::string_view user);
  Result<std::vector<std::string>> Members(const lmdb::Txn& txn, std::string_view app) const;  // sorted

  // An app's deploy keys by name. PutDeployKey returns false, and changes
  // nothing, if the app already has a deploy key of that name.
  Result<std::optional<DeployKeyEntry>> GetDeployKey(const lmdb::Txn& txn, std::string_view app,
                                                     std::string_view name) const;
  Result<bool> PutDeployKey(lmdb::Txn& txn, std::string_view app, const DeployKeyEntry& entry);
  Result<bool> DeleteDeployKey(lmdb::Txn& txn, std::string_view app, std::string_view name);
  Result<std::vector<DeployKeyEntry>> DeployKeys(const lmdb::Txn& txn, std::string_view app) const;  // by name

  // Mappings: Put returns false, and changes nothing, if `key` is there
  // already; Delete false if it was not. A table that a read-only open did
  // not find is empty.
  Result<std::optional<std::string>> GetMapping(const lmdb::Txn& txn, Mappings table, std::string_view key) const;
  Result<bool> PutMapping(lmdb::Txn& txn, Mappings table, std::string_view key, std::string_view value);
  Result<bool> DeleteMapping(lmdb::Txn& txn, Mappings table, std::string_view key);
  // Every entry, by key.
  Result<std::vector<std::pair<std::string, std::string>>> ListMappings(const lmdb::Txn& txn, Mappings table) const;

  // Writes `value` under `key` in `table` as it is, with no checks: for
  // tests that plant corrupt or foreign data.
  Status TEST_PutRaw(lmdb::Txn& txn, Table table, std::string_view key, std::string_view value);

  // Key records. PutKey keeps the per-user index in step, also when a
  // fingerprint moves from one user to another.
  Result<std::optional<KeyRecord>> GetKey(const lmdb::Txn& txn, std::string_view fingerprint,
                                          KeySet set = KeySet::kActive) const;
  Status PutKey(lmdb::Txn& txn, std::string_view fingerprint, const KeyRecord& record,
                KeySet set = KeySet::kActive);
  // Adds the key only if its fingerprint is absent (one B-tree search, for
  // bulk imports). Returns the existing record, untouched, if there is one.
  Result<std::optional<KeyRecord>> InsertKey(lmdb::Txn& txn, std::string_view fingerprint,
                                             const KeyRecord& record);
  Result<bool> DeleteKey(lmdb::Txn& txn, std::string_view fingerprint, KeySet set = KeySet::kActive);
  // Fingerprints of `user`'s keys, sorted.
  Result<std::vector<std::string>> UserKeyFingerprints(const lmdb::Txn& txn, std::string_view user) const;
  Result<uint64_t> KeyCount(const lmdb::Txn& txn, KeySet set = KeySet::kActive) const;
  // Calls `visit` for every key of the active set in digest order.
  Status ForEachKey(const lmdb::Txn& txn,
                    const std::function<Status(std::string_view, const KeyRecord&)>& visit) const;

  // Corruption unless the active set's per-user index lists exactly its keys.
  Status VerifyIndex(const lmdb::Txn& txn) const;

  // Empties the staging set, and makes it the active one (the old active set
  // becomes the staging set, to be emptied by the next resync). A full
  // resync fills the staging set with a StagingLoad (below) in between.
  Status ClearStaging(lmdb::Txn& txn);
  Status ActivateStaging(lmdb::Txn& txn);

  // Small named values (kMeta* above).
  Result<std::optional<std::string>> GetMeta(const lmdb::Txn& txn, std::string_view name) const;
  Status PutMeta(lmdb::Txn& txn, std::string_view name, std::string_view value);
  Result<int64_t> GetMetaInt(const lmdb::Txn& txn, std::string_view name) const;  // 0 if absent
  Status PutMetaInt(lmdb::Txn& txn, std::string_view name, int64_t value);

  // The negative cache (controller lookup mode).
  Status PutNegative(lmdb::Txn& txn, std::string_view fingerprint, int64_t until_ms);
  Status DeleteNegative(lmdb::Txn& txn, std::string_view fingerprint);
  // Removes entries that expired before `now_ms`.
  Status SweepNegative(lmdb::Txn& txn, int64_t now_ms);

  // One read transaction with everything the keys helper needs: the hot path.
  Result<KeyLookup> Lookup(std::string_view fingerprint) const;

  // Writes a compacted, consistent copy of the environment to `fd` while
  // readers and writers carry on.
  Status CopyCompactTo(int fd) const;

 private:
  friend class StagingLoad;
  KeyCache(lmdb::EnvPtr env, std::string dir) : env_(std::move(env)), dir_(std::move(dir)) {}
  MDB_dbi dbi(Table table) const { return dbis_[static_cast<int>(table)]; }
  static Table TableOf(Names names) { return names == Names::kUsers ? Table::kUsers : Table::kApps; }
  MDB_dbi dbi(Names names) const { return dbi(TableOf(names)); }
  static Table TableOf(Mappings table) { return table == Mappings::kCaKeys ? Table::kCaKeys : Table::kPrincipals; }
  // Visits the entries of `table` whose keys start with `prefix`, in key
  // order, with the key's remainder and the value.
  Status ScanPrefix(const lmdb::Txn& txn, Table table, std::string_view prefix,
                    const std::function<Status(std::string_view, std::string_view)>& visit) const;
  // The keys of `table` that start with `prefix`, each without it, sorted.
  Result<std::vector<std::string>> ScanSuffixes(const lmdb::Txn& txn, Table table, std::string_view prefix) const;
  Status OpenTables(Access access);
  struct KeyTables {
    MDB_dbi keys;
    MDB_dbi user_keys;
  };
  Result<KeyTables> Tables(const lmdb::Txn& txn, KeySet set) const;
  // Drops user's index entry for `digest` unless another of their keys
  // shares its prefix.
  Status Unindex(lmdb::Txn& txn, const KeyTables& tables, std::string_view user, std::string_view digest);
  // Rewrites layout 1's active key set into the staging set in layout 2 and
  // activates it, in the caller's transaction: all or nothing.
  Status ConvertLayoutOne(lmdb::Txn& txn);

  // Empties the staging set and appends `changes` (digest -> 'P' record or
  // 'D') to it in digest order, then its index, committing every few
  // thousand rows.
  Status WriteStaging(ExternalSorter& changes);

  lmdb::EnvPtr env_;
  std::string dir_;
  MDB_dbi dbis_[kTableCount] = {};
  bool present_[kTableCount] = {};
};

// A whole key set arriving in any order (a full resync from the controller),
// written into the staging set in flat memory.
//
// Changes are sorted through an ExternalSorter whose runs spill to an
// unlinked file in the cache's directory (about 100 bytes a key), then
// appended to the emptied staging set in digest order: B-tree pages are
// written once and full, in transactions of bounded size, so neither the
// heap nor the file mapping grows with the number of keys. The per-user
// index is built the same way afterwards. Readers keep using the active set
// throughout; a crash leaves a partial staging set that the next load
// empties. Activate the result with KeyCache::ActivateStaging.
class StagingLoad {
 public:
  explicit StagingLoad(KeyCache& cache);
  // Later changes of a fingerprint replace earlier ones.
  Status Put(std::string_view fingerprint, const KeyRecord& record);
  Status Delete(std::string_view fingerprint);
  // Call once.
  Status Write() { return cache_.WriteStaging(changes_); }

 private:
  KeyCache& cache_;
  ExternalSorter changes_;
};

// user '\0' suffix: the composite keys of kUserKeys and kMembers.
std::string CompositeKey(std::string_view first, std::string_view second);

}  // namespace pushgate

#endif  // PUSHGATE_CACHE_CACHE_H_
