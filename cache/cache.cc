#include "cache/cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "util/names.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

// Layout 2: tables keyed by the 32-byte digest, records with the key blob in
// binary, a per-user index of digest prefixes. Layout 1 (text fingerprints,
// base64 blobs, whole fingerprints in the index) is converted on the first
// read-write open.
constexpr char kSchemaVersion[] = "2";
constexpr std::string_view kLayoutOne = "1";
constexpr uint8_t kRecordVersion = 2;
constexpr uint8_t kLayoutOneRecordVersion = 1;
// Virtual address space reserved for the map. The file only grows as data is
// written; 32 GiB holds tens of millions of keys.
constexpr size_t kMapSize = size_t{32} << 30;
constexpr size_t kDigestBytes = 32;
// Eight bytes of a digest tell a user's keys apart with overwhelming odds;
// the keys table settles the rare tie.
constexpr size_t kDigestPrefixBytes = 8;

// Key types by their one-byte code in a record: on disk, so never renumber,
// only append. Code 0 means the type is spelled out in the record. This is
// not util's IsAllowedKeyType list: that one may drop a type, while records
// written with its code must still decode.
constexpr std::string_view kKeyTypeCodes[] = {
    "",
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

uint8_t KeyTypeCode(std::string_view type) {
  for (size_t i = 1; i < std::size(kKeyTypeCodes); ++i) {
    if (kKeyTypeCodes[i] == type) return static_cast<uint8_t>(i);
  }
  return 0;
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Refuses a varint with a redundant zero group, so a record that decodes
// encodes back to the same bytes.
bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift <= 63 && !in.empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{byte & 0x7Fu} << shift;
    if ((byte & 0x80) == 0) return byte != 0 || shift == 0;
  }
  return false;
}

void PutField(std::string& out, std::string_view field) {
  PutVarint(out, field.size());
  out += field;
}

bool GetField(std::string_view& in, std::string_view& field) {
  uint64_t len;
  if (!GetVarint(in, len) || len > in.size()) return false;
  field = in.substr(0, len);
  in.remove_prefix(len);
  return true;
}

bool GetField(std::string_view& in, std::string& field) {
  std::string_view view;
  if (!GetField(in, view)) return false;
  field.assign(view);
  return true;
}

// A layout-1 record: version 1, then user, type, base64 blob and comment as
// fields, then the two times. Read only to convert an old cache.
Result<KeyRecord> DecodeLayoutOneRecord(std::string_view data) {
  KeyRecord r;
  uint64_t added_at;
  uint64_t verified_at;
  if (data.empty() || static_cast<uint8_t>(data.front()) != kLayoutOneRecordVersion) {
    return Status::Corruption("key record has an unknown version");
  }
  data.remove_prefix(1);
  if (!GetField(data, r.user) || !GetField(data, r.type) || !GetField(data, r.blob) ||
      !GetField(data, r.comment) || !GetVarint(data, added_at) || !GetVarint(data, verified_at) ||
      !data.empty()) {
    return Status::Corruption("key record is truncated or malformed");
  }
  r.added_at = static_cast<int64_t>(added_at);
  r.verified_at_ms = static_cast<int64_t>(verified_at);
  return r;
}

// user '\0' the digest's first bytes: the per-user index lists which
// prefixes to look up in the keys table, not the keys again.
std::string IndexKey(std::string_view user, std::string_view digest) {
  return CompositeKey(user, digest.substr(0, kDigestPrefixBytes));
}

}  // namespace

Result<std::string> EncodeKeyRecord(const KeyRecord& r) {
  std::optional<std::string> raw = DecodeBase64(r.blob);
  if (!raw || EncodeBase64(*raw, true) != r.blob) {
    return Status::InvalidArgument("key blob is not canonical base64");
  }
  WireReader wire(*raw);
  std::string_view type;
  if (!wire.ReadString(type) || type != r.type || type.empty()) {
    return Status::InvalidArgument("key blob does not begin with its type " + r.type);
  }
  std::string out;
  out.reserve(24 + r.user.size() + raw->size() + r.comment.size());
  out += static_cast<char>(kRecordVersion);
  PutField(out, r.user);
  uint8_t code = KeyTypeCode(r.type);
  out += static_cast<char>(code);
  if (code == 0) PutField(out, r.type);
  PutField(out, wire.rest());
  PutField(out, r.comment);
  PutVarint(out, static_cast<uint64_t>(r.added_at));
  PutVarint(out, static_cast<uint64_t>(r.verified_at_ms));
  return out;
}

Result<KeyRecord> DecodeKeyRecord(std::string_view data) {
  auto corrupt = [] { return Status::Corruption("key record is truncated or malformed"); };
  if (data.empty() || static_cast<uint8_t>(data.front()) != kRecordVersion) {
    return Status::Corruption("key record has an unknown version");
  }
  data.remove_prefix(1);
  KeyRecord r;
  if (!GetField(data, r.user) || data.empty()) return corrupt();
  uint8_t code = static_cast<uint8_t>(data.front());
  data.remove_prefix(1);
  if (code >= std::size(kKeyTypeCodes)) return corrupt();
  std::string_view type = kKeyTypeCodes[code];
  // A spelled-out type is never one that has a code: one record, one encoding.
  if (code == 0 && (!GetField(data, type) || type.empty() || KeyTypeCode(type) != 0)) return corrupt();
  std::string_view rest;
  uint64_t added_at;
  uint64_t verified_at;
  if (!GetField(data, rest) || !GetField(data, r.comment) || !GetVarint(data, added_at) ||
      !GetVarint(data, verified_at) || !data.empty()) {
    return corrupt();
  }
  r.type.assign(type);
  std::string raw;
  raw.reserve(4 + type.size() + rest.size());
  for (int shift = 24; shift >= 0; shift -= 8) raw += static_cast<char>((type.size() >> shift) & 0xFF);
  raw += type;
  raw += rest;
  r.blob = EncodeBase64(raw, true);
  r.added_at = static_cast<int64_t>(added_at);
  r.verified_at_ms = static_cast<int64_t>(verified_at);
  return r;
}

Result<std::string_view> KeyRecordUser(std::string_view data) {
  std::string_view user;
  if (data.empty() || static_cast<uint8_t>(data.front()) != kRecordVersion) {
    return Status::Corruption("key record has an unknown version");
  }
  data.remove_prefix(1);
  if (!GetField(data, user)) return Status::Corruption("key record is truncated or malformed");
  return user;
}

Result<std::string> FingerprintDigest(std::string_view fingerprint) {
  std::optional<std::string> digest;
  if (IsValidSha256Fingerprint(fingerprint)) digest = DecodeBase64(fingerprint.substr(7));
  if (!digest || digest->size() != kDigestBytes || FingerprintText(*digest) != fingerprint) {
    return Status::InvalidArgument("not an OpenSSH SHA256 fingerprint: " + Printable(fingerprint, 64));
  }
  return std::move(*digest);
}

std::string CompositeKey(std::string_view first, std::string_view second) {
  std::string key;
  key.reserve(first.size() + 1 + second.size());
  key += first;
  key += '\0';
  key += second;
  return key;
}

Result<std::unique_ptr<KeyCache>> KeyCache::Open(const std::string& dir, Access access) {
  bool read_only = access == Access::kReadOnly;
  if (read_only) {
    struct stat st;
    if (::stat((dir + "/data.mdb").c_str(), &st) != 0) {
      return Status::FromErrno(errno, "open key cache " + dir);
    }
  } else if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "create " + dir);
  }

  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "create LMDB environment");
  lmdb::EnvPtr env(raw);
  rc = mdb_env_set_maxdbs(env.get(), kTableCount);
  if (rc == MDB_SUCCESS && !read_only) rc = mdb_env_set_mapsize(env.get(), kMapSize);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "configure key cache " + dir);
  // Random point lookups: read-ahead would only evict useful pages.
  // MDB_NOTLS ties reader slots to transactions rather than threads, so one
  // thread may hold several read transactions (a listing inside a check).
  // kSyncWrite: the sync process's writes are a cache of the controller:
  // NOMETASYNC keeps the database intact on a system crash and at worst
  // forgets the last sync, which the next one redoes; it saves a flush per
  // commit.
  unsigned flags = MDB_NORDAHEAD | MDB_NOTLS | (read_only ? MDB_RDONLY : 0) |
                   (access == Access::kSyncWrite ? MDB_NOMETASYNC : 0);
  rc = mdb_env_open(env.get(), dir.c_str(), flags, 0600);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "open key cache " + dir);
  if (!read_only) {
    // Readers killed mid-transaction (kill -9 of a helper) leave their slot
    // behind; clearing them keeps the reader table from filling up.
    int dead = 0;
    rc = mdb_reader_check(env.get(), &dead);
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "clear stale readers of key cache " + dir);
  }
  std::unique_ptr<KeyCache> cache(new KeyCache(std::move(env), dir));
  PG_RETURN_IF_ERROR(cache->OpenTables(access));
  return cache;
}

KeyCache::~KeyCache() = default;

Status KeyCache::OpenTables(Access access) {
  bool read_only = access == Access::kReadOnly;
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, lmdb::Txn::Begin(env_.get(), read_only ? MDB_RDONLY : 0));
  for (int i = 0; i < kTableCount; ++i) {
    int rc = mdb_dbi_open(txn.get(), kTables[i].name, read_only ? 0 : MDB_CREATE, &dbis_[i]);
    if (rc == MDB_NOTFOUND && read_only) continue;
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, std::string("open table ") + kTables[i].name);
    present_[i] = true;
  }
  if (!HasTable(Table::kMeta) || !HasTable(Table::kKeys)) {
    return Status::NotFound("the key cache is empty (nothing has been written yet)");
  }
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> schema, txn.Get(dbi(Table::kMeta), "schema"));
  if (!schema) {
    if (read_only) return Status::NotFound("the key cache is empty (nothing has been written yet)");
    PG_RETURN_IF_ERROR(txn.Put(dbi(Table::kMeta), "schema", kSchemaVersion));
  } else if (*schema == kLayoutOne) {
    if (read_only) {
      return Status::Unavailable(
          "the key cache has layout 1, written by an older pushgate; the first read-write open converts it: "
          "run any `pushgate` command (for example `pushgate user list`) or start pushgate-sync");
    }
    PG_RETURN_IF_ERROR(ConvertLayoutOne(txn));
  } else if (*schema != kSchemaVersion) {
    return Status::Corruption("the key cache has schema version " + std::string(*schema) +
                              ", this pushgate understands " + kSchemaVersion);
  }
  return txn.Commit();
}

Result<lmdb::Txn> KeyCache::BeginRead() const { return lmdb::Txn::Begin(env_.get(), MDB_RDONLY); }

Result<lmdb::Txn> KeyCache::BeginWrite() { return lmdb::Txn::Begin(env_.get(), 0); }

Result<KeyCache::KeyTables> KeyCache::Tables(const lmdb::Txn& txn, KeySet set) const {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> active, txn.Get(dbi(Table::kMeta), kMetaKeySet));
  bool one_active = active && *active == "1";
  if (active && *active != "0" && *active != "1") return Status::Corruption("meta key_set is neither 0 nor 1");
  bool use_one = (set == KeySet::kActive) == one_active;
  Table keys = use_one ? Table::kKeys1 : Table::kKeys;
  Table index = use_one ? Table::kUserKeys1 : Table::kUserKeys;
  if (!HasTable(keys) || !HasTable(index)) return Status::Corruption("the key cache lacks key set tables");
  return KeyTables{dbi(keys), dbi(index)};
}

Result<std::optional<KeyRecord>> KeyCache::GetKey(const lmdb::Txn& txn, std::string_view fingerprint,
                                                  KeySet set) const {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, set));
  Result<std::string> digest = FingerprintDigest(fingerprint);
  if (!digest.ok()) return std::optional<KeyRecord>();  // nothing is stored under it
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> value, txn.Get(tables.keys, *digest));
  if (!value) return std::optional<KeyRecord>();
  Result<KeyRecord> record = DecodeKeyRecord(*value);
  if (!record.ok()) return record.status().Annotate(std::string(fingerprint));
  return std::optional<KeyRecord>(std::move(record).value());
}

Status KeyCache::Unindex(lmdb::Txn& txn, const KeyTables& tables, std::string_view user, std::string_view digest) {
  std::string_view prefix = digest.substr(0, kDigestPrefixBytes);
  {
    PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, tables.keys));
    PG_ASSIGN_OR_RETURN(bool more, cursor.Seek(prefix));
    while (more && cursor.key().substr(0, prefix.size()) == prefix) {
      Result<std::string_view> other = KeyRecordUser(cursor.value());
      // Another key of this user shares the prefix: its index entry stays.
      if (cursor.key() != digest && other.ok() && *other == user) return Status::OK();
      PG_ASSIGN_OR_RETURN(more, cursor.Next());
    }
  }
  return txn.Delete(tables.user_keys, IndexKey(user, digest)).status();
}

Status KeyCache::ConvertLayoutOne(lmdb::Txn& txn) {
  PG_RETURN_IF_ERROR(ClearStaging(txn));
  PG_ASSIGN_OR_RETURN(KeyTables old, Tables(txn, KeySet::kActive));
  {
    PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, old.keys));
    PG_ASSIGN_OR_RETURN(bool more, cursor.First());
    while (more) {
      std::string fingerprint(cursor.key());
      Result<KeyRecord> record = DecodeLayoutOneRecord(cursor.value());
      Status put = record.ok() ? PutKey(txn, fingerprint, *record, KeySet::kStaging) : record.status();
      if (!put.ok()) {
        return put.Annotate("converting the key cache from layout 1 failed at key " + Printable(fingerprint, 64) +
                            "; nothing was changed. Remove that key with `pushgate key remove` from the older "
                            "pushgate, or restore a backup");
      }
      PG_ASSIGN_OR_RETURN(more, cursor.Next());
    }
  }
  PG_RETURN_IF_ERROR(ActivateStaging(txn));
  PG_RETURN_IF_ERROR(ClearStaging(txn));  // the old layout's tables, now the staging set
  return txn.Put(dbi(Table::kMeta), "schema", kSchemaVersion);
}

Status KeyCache::PutKey(lmdb::Txn& txn, std::string_view fingerprint, const KeyRecord& record, KeySet set) {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, set));
  PG_ASSIGN_OR_RETURN(std::string digest, FingerprintDigest(fingerprint));
  PG_ASSIGN_OR_RETURN(std::string encoded, EncodeKeyRecord(record));
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> old, txn.Get(tables.keys, digest));
  if (old) {
    Result<std::string_view> previous = KeyRecordUser(*old);
    // A corrupt old record is replaced; its index entry cannot be known, and
    // a stale index entry only costs a skipped row when listing.
    if (previous.ok() && *previous != record.user) {
      PG_RETURN_IF_ERROR(Unindex(txn, tables, std::string(*previous), digest));
    }
  }
  PG_RETURN_IF_ERROR(txn.Put(tables.keys, digest, encoded));
  return txn.Put(tables.user_keys, IndexKey(record.user, digest), "");
}

Result<std::optional<KeyRecord>> KeyCache::InsertKey(lmdb::Txn& txn, std::string_view fingerprint,
                                                     const KeyRecord& record) {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, KeySet::kActive));
  PG_ASSIGN_OR_RETURN(std::string digest, FingerprintDigest(fingerprint));
  PG_ASSIGN_OR_RETURN(std::string encoded, EncodeKeyRecord(record));
  MDB_val key = lmdb::ToVal(digest);
  MDB_val value = lmdb::ToVal(encoded);
  int rc = mdb_put(txn.get(), tables.keys, &key, &value, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) {
    // LMDB left `value` pointing at the stored record.
    Result<KeyRecord> existing = DecodeKeyRecord(lmdb::FromVal(value));
    if (!existing.ok()) return existing.status().Annotate(std::string(fingerprint));
    return std::optional<KeyRecord>(std::move(existing).value());
  }
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "write");
  PG_RETURN_IF_ERROR(txn.Put(tables.user_keys, IndexKey(record.user, digest), ""));
  return std::optional<KeyRecord>();
}

Result<bool> KeyCache::DeleteKey(lmdb::Txn& txn, std::string_view fingerprint, KeySet set) {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, set));
  Result<std::string> digest = FingerprintDigest(fingerprint);
  if (!digest.ok()) return false;
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> old, txn.Get(tables.keys, *digest));
  if (!old) return false;
  Result<std::string_view> previous = KeyRecordUser(*old);
  if (previous.ok()) PG_RETURN_IF_ERROR(Unindex(txn, tables, std::string(*previous), *digest));
  return txn.Delete(tables.keys, *digest);
}

Result<std::vector<std::string>> KeyCache::UserKeyFingerprints(const lmdb::Txn& txn,
                                                               std::string_view user) const {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, KeySet::kActive));
  std::vector<std::string> out;
  std::string prefix = CompositeKey(user, "");
  PG_ASSIGN_OR_RETURN(lmdb::Cursor index, lmdb::Cursor::Open(txn, tables.user_keys));
  PG_ASSIGN_OR_RETURN(lmdb::Cursor keys, lmdb::Cursor::Open(txn, tables.keys));
  PG_ASSIGN_OR_RETURN(bool more, index.Seek(prefix));
  while (more && index.key().substr(0, prefix.size()) == prefix) {
    std::string_view digest_prefix = index.key().substr(prefix.size());
    PG_ASSIGN_OR_RETURN(bool found, keys.Seek(digest_prefix));
    while (found && keys.key().substr(0, digest_prefix.size()) == digest_prefix) {
      Result<std::string_view> owner = KeyRecordUser(keys.value());
      if (owner.ok() && *owner == user) out.push_back(FingerprintText(keys.key()));
      PG_ASSIGN_OR_RETURN(found, keys.Next());
    }
    PG_ASSIGN_OR_RETURN(more, index.Next());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<uint64_t> KeyCache::KeyCount(const lmdb::Txn& txn, KeySet set) const {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, set));
  MDB_stat st;
  int rc = mdb_stat(txn.get(), tables.keys, &st);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "stat keys");
  return static_cast<uint64_t>(st.ms_entries);
}

Status KeyCache::ForEachKey(const lmdb::Txn& txn,
                            const std::function<Status(std::string_view, const KeyRecord&)>& visit) const {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, KeySet::kActive));
  PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, tables.keys));
  PG_ASSIGN_OR_RETURN(bool more, cursor.First());
  while (more) {
    std::string fingerprint = FingerprintText(cursor.key());
    Result<KeyRecord> record = DecodeKeyRecord(cursor.value());
    if (!record.ok()) return record.status().Annotate(fingerprint);
    PG_RETURN_IF_ERROR(visit(fingerprint, *record));
    PG_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  return Status::OK();
}

Status KeyCache::VerifyIndex(const lmdb::Txn& txn) const {
  std::set<std::string> from_keys;
  PG_RETURN_IF_ERROR(ForEachKey(txn, [&](std::string_view fp, const KeyRecord& r) {
    PG_ASSIGN_OR_RETURN(std::string digest, FingerprintDigest(fp));
    from_keys.insert(IndexKey(r.user, digest));
    return Status::OK();
  }));
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, KeySet::kActive));
  PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, tables.user_keys));
  PG_ASSIGN_OR_RETURN(bool more, cursor.First());
  size_t indexed = 0;
  while (more) {
    if (!from_keys.count(std::string(cursor.key()))) {
      return Status::Corruption("the per-user index has an entry without a key");
    }
    ++indexed;
    PG_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  if (indexed != from_keys.size()) return Status::Corruption("the per-user index misses keys");
  return Status::OK();
}

Status KeyCache::ClearStaging(lmdb::Txn& txn) {
  PG_ASSIGN_OR_RETURN(KeyTables tables, Tables(txn, KeySet::kStaging));
  PG_RETURN_IF_ERROR(lmdb::ToStatus(mdb_drop(txn.get(), tables.keys, 0), "empty the staging keys"));
  return lmdb::ToStatus(mdb_drop(txn.get(), tables.user_keys, 0), "empty the staging index");
}

namespace {

// Rows appended per transaction while loading the staging set: each commit
// frees its dirty pages, so the heap holds a few megabytes at most.
constexpr size_t kRowsPerLoadTransaction = 20000;
// Bytes of pairs an ExternalSorter holds before it spills a run.
constexpr size_t kLoadRunBytes = size_t{16} << 20;
constexpr char kLoadPut = 'P';
constexpr char kLoadDelete = 'D';

// Appends rows in key order to a table of an environment, committing every
// kRowsPerLoadTransaction rows.
class Appender {
 public:
  Appender(MDB_env* env, MDB_dbi dbi) : env_(env), dbi_(dbi) {}

  Status Append(std::string_view key, std::string_view value) {
    if (!txn_) {
      PG_ASSIGN_OR_RETURN(lmdb::Txn txn, lmdb::Txn::Begin(env_, 0));
      txn_.emplace(std::move(txn));
    }
    PG_RETURN_IF_ERROR(txn_->Put(dbi_, key, value, MDB_APPEND));
    return ++rows_ % kRowsPerLoadTransaction == 0 ? Finish() : Status::OK();
  }
  Status Finish() {
    if (!txn_) return Status::OK();
    Status committed = txn_->Commit();
    txn_.reset();
    return committed;
  }

 private:
  MDB_env* env_;
  MDB_dbi dbi_;
  std::optional<lmdb::Txn> txn_;
  size_t rows_ = 0;
};

}  // namespace

StagingLoad::StagingLoad(KeyCache& cache) : cache_(cache), changes_(cache.dir_, kLoadRunBytes) {}

Status StagingLoad::Put(std::string_view fingerprint, const KeyRecord& record) {
  PG_ASSIGN_OR_RETURN(std::string digest, FingerprintDigest(fingerprint));
  PG_ASSIGN_OR_RETURN(std::string encoded, EncodeKeyRecord(record));
  return changes_.Add(digest, kLoadPut + encoded);
}

Status StagingLoad::Delete(std::string_view fingerprint) {
  PG_ASSIGN_OR_RETURN(std::string digest, FingerprintDigest(fingerprint));
  return changes_.Add(digest, std::string(1, kLoadDelete));
}

Status KeyCache::WriteStaging(ExternalSorter& changes) {
  KeyTables tables{};
  {
    PG_ASSIGN_OR_RETURN(lmdb::Txn txn, BeginWrite());
    PG_RETURN_IF_ERROR(ClearStaging(txn));
    PG_ASSIGN_OR_RETURN(tables, Tables(txn, KeySet::kStaging));
    PG_RETURN_IF_ERROR(txn.Commit());
  }
  ExternalSorter index(dir_, kLoadRunBytes);
  Appender keys(env_.get(), tables.keys);
  PG_RETURN_IF_ERROR(changes.Merge([&](std::string_view digest, std::string_view change) -> Status {
    if (change.empty() || change.front() != kLoadPut) return Status::OK();  // deleted last
    std::string_view record = change.substr(1);
    PG_ASSIGN_OR_RETURN(std::string_view user, KeyRecordUser(record));
    PG_RETURN_IF_ERROR(index.Add(IndexKey(user, digest), ""));
    return keys.Append(digest, record);
  }));
  PG_RETURN_IF_ERROR(keys.Finish());
  Appender users(env_.get(), tables.user_keys);
  PG_RETURN_IF_ERROR(index.Merge([&](std::string_view key, std::string_view) { return users.Append(key, ""); }));
  return users.Finish();
}

Status KeyCache::ActivateStaging(lmdb::Txn& txn) {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> active, txn.Get(dbi(Table::kMeta), kMetaKeySet));
  return PutMeta(txn, kMetaKeySet, active && *active == "1" ? "0" : "1");
}

Result<std::optional<std::string>> KeyCache::GetMeta(const lmdb::Txn& txn, std::string_view name) const {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> value, txn.Get(dbi(Table::kMeta), name));
  if (!value) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*value));
}

Status KeyCache::PutMeta(lmdb::Txn& txn, std::string_view name, std::string_view value) {
  return txn.Put(dbi(Table::kMeta), name, value);
}

namespace {

// Decimal integers in meta and the negative table: readable with mdb_dump.
Result<int64_t> ParseInt(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 19) return Status::Corruption(std::string(what) + " is not a number");
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Status::Corruption(std::string(what) + " is not a number");
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

Result<int64_t> KeyCache::GetMetaInt(const lmdb::Txn& txn, std::string_view name) const {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> value, txn.Get(dbi(Table::kMeta), name));
  if (!value) return int64_t{0};
  return ParseInt(*value, "meta " + std::string(name));
}

Status KeyCache::PutMetaInt(lmdb::Txn& txn, std::string_view name, int64_t value) {
  return PutMeta(txn, name, std::to_string(value));
}

Status KeyCache::PutNegative(lmdb::Txn& txn, std::string_view fingerprint, int64_t until_ms) {
  return txn.Put(dbi(Table::kNegative), fingerprint, std::to_string(until_ms));
}

Status KeyCache::DeleteNegative(lmdb::Txn& txn, std::string_view fingerprint) {
  return txn.Delete(dbi(Table::kNegative), fingerprint).status();
}

Status KeyCache::SweepNegative(lmdb::Txn& txn, int64_t now_ms) {
  std::vector<std::string> expired;
  {
    PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, dbi(Table::kNegative)));
    PG_ASSIGN_OR_RETURN(bool more, cursor.First());
    while (more) {
      Result<int64_t> until = ParseInt(cursor.value(), "negative cache entry");
      if (!until.ok() || *until < now_ms) expired.emplace_back(cursor.key());
      PG_ASSIGN_OR_RETURN(more, cursor.Next());
    }
  }
  for (const std::string& fp : expired) PG_RETURN_IF_ERROR(DeleteNegative(txn, fp));
  return Status::OK();
}

Result<KeyLookup> KeyCache::Lookup(std::string_view fingerprint) const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, BeginRead());
  KeyLookup out;
  PG_ASSIGN_OR_RETURN(out.record, GetKey(txn, fingerprint));
  PG_ASSIGN_OR_RETURN(out.synced_at_ms, GetMetaInt(txn, kMetaSyncedAt));
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> feed, txn.Get(dbi(Table::kMeta), kMetaFeed));
  if (feed) out.feed = std::string(*feed);
  if (HasTable(Table::kNegative)) {
    PG_ASSIGN_OR_RETURN(std::optional<std::string_view> negative, txn.Get(dbi(Table::kNegative), fingerprint));
    if (negative) {
      PG_ASSIGN_OR_RETURN(out.negative_until_ms, ParseInt(*negative, "negative cache entry"));
    }
  }
  return out;
}

Status KeyCache::CopyCompactTo(int fd) const {
  return lmdb::ToStatus(mdb_env_copyfd2(env_.get(), fd, MDB_CP_COMPACT), "copy key cache");
}

Status KeyCache::ScanPrefix(const lmdb::Txn& txn, Table table, std::string_view prefix,
                            const std::function<Status(std::string_view, std::string_view)>& visit) const {
  PG_ASSIGN_OR_RETURN(lmdb::Cursor cursor, lmdb::Cursor::Open(txn, dbi(table)));
  PG_ASSIGN_OR_RETURN(bool more, prefix.empty() ? cursor.First() : cursor.Seek(prefix));
  while (more && cursor.key().substr(0, prefix.size()) == prefix) {
    PG_RETURN_IF_ERROR(visit(cursor.key().substr(prefix.size()), cursor.value()));
    PG_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  return Status::OK();
}

Result<std::vector<std::string>> KeyCache::ScanSuffixes(const lmdb::Txn& txn, Table table,
                                                       std::string_view prefix) const {
  std::vector<std::string> out;
  PG_RETURN_IF_ERROR(ScanPrefix(txn, table, prefix, [&out](std::string_view suffix, std::string_view) {
    out.emplace_back(suffix);
    return Status::OK();
  }));
  return out;
}

Result<bool> KeyCache::HasName(const lmdb::Txn& txn, Names names, std::string_view name) const {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> found, txn.Get(dbi(names), name));
  return found.has_value();
}

Result<bool> KeyCache::AddName(lmdb::Txn& txn, Names names, std::string_view name, int64_t created_at) {
  Status put = txn.Put(dbi(names), name, std::to_string(created_at), MDB_NOOVERWRITE);
  if (put.IsAlreadyExists()) return false;
  PG_RETURN_IF_ERROR(put);
  return true;
}

Result<bool> KeyCache::RemoveName(lmdb::Txn& txn, Names names, std::string_view name) {
  return txn.Delete(dbi(names), name);
}

Result<std::vector<std::string>> KeyCache::ListNames(const lmdb::Txn& txn, Names names) const {
  return ScanSuffixes(txn, TableOf(names), "");
}

Result<bool> KeyCache::HasMember(const lmdb::Txn& txn, std::string_view app, std::string_view user) const {
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> found, txn.Get(dbi(Table::kMembers), CompositeKey(app, user)));
  return found.has_value();
}

Result<bool> KeyCache::AddMember(lmdb::Txn& txn, std::string_view app, std::string_view user) {
  Status put = txn.Put(dbi(Table::kMembers), CompositeKey(app, user), "", MDB_NOOVERWRITE);
  if (put.IsAlreadyExists()) return false;
  PG_RETURN_IF_ERROR(put);
  return true;
}

Result<bool> KeyCache::RemoveMember(lmdb::Txn& txn, std::string_view app, std::string_view user) {
  return txn.Delete(dbi(Table::kMembers), CompositeKey(app, user));
}

Result<std::vector<std::string>> KeyCache::Members(const lmdb::Txn& txn, std::string_view app) const {
  return ScanSuffixes(txn, Table::kMembers, CompositeKey(app, ""));
}

Result<std::optional<std::string>> KeyCache::GetMapping(const lmdb::Txn& txn, Mappings table,
                                                      std::string_view key) const {
  if (!HasTable(TableOf(table))) return std::optional<std::string>();
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> value, txn.Get(dbi(TableOf(table)), key));
  if (!value) return std::optional<std::string>();
  return std::optional<std::string>(*value);
}

Result<bool> KeyCache::PutMapping(lmdb::Txn& txn, Mappings table, std::string_view key, std::string_view value) {
  Status put = txn.Put(dbi(TableOf(table)), key, value, MDB_NOOVERWRITE);
  if (put.IsAlreadyExists()) return false;
  PG_RETURN_IF_ERROR(put);
  return true;
}

Result<bool> KeyCache::DeleteMapping(lmdb::Txn& txn, Mappings table, std::string_view key) {
  return txn.Delete(dbi(TableOf(table)), key);
}

Result<std::vector<std::pair<std::string, std::string>>> KeyCache::ListMappings(const lmdb::Txn& txn,
                                                                               Mappings table) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!HasTable(TableOf(table))) return out;
  PG_RETURN_IF_ERROR(ScanPrefix(txn, TableOf(table), "", [&out](std::string_view key, std::string_view value) {
    out.emplace_back(std::string(key), std::string(value));
    return Status::OK();
  }));
  return out;
}

namespace {

// 'P' (may push) or 'R' (fetch only), then the fingerprint.
std::string EncodeDeployKey(const DeployKeyEntry& entry) { return (entry.push ? "P" : "R") + entry.fingerprint; }

Result<DeployKeyEntry> DecodeDeployKey(std::string_view name, std::string_view value) {
  if (value.empty() || (value.front() != 'P' && value.front() != 'R')) {
    return Status::Corruption("deploy key record " + std::string(name) + " is malformed");
  }
  return DeployKeyEntry{std::string(name), std::string(value.substr(1)), value.front() == 'P'};
}

}  // namespace

Result<std::optional<DeployKeyEntry>> KeyCache::GetDeployKey(const lmdb::Txn& txn, std::string_view app,
                                                             std::string_view name) const {
  if (!HasTable(Table::kDeployKeys)) return std::optional<DeployKeyEntry>();
  PG_ASSIGN_OR_RETURN(std::optional<std::string_view> value,
                      txn.Get(dbi(Table::kDeployKeys), CompositeKey(app, name)));
  if (!value) return std::optional<DeployKeyEntry>();
  PG_ASSIGN_OR_RETURN(DeployKeyEntry entry, DecodeDeployKey(name, *value));
  return std::optional<DeployKeyEntry>(std::move(entry));
}

Result<bool> KeyCache::PutDeployKey(lmdb::Txn& txn, std::string_view app, const DeployKeyEntry& entry) {
  Status put = txn.Put(dbi(Table::kDeployKeys), CompositeKey(app, entry.name), EncodeDeployKey(entry), MDB_NOOVERWRITE);
  if (put.IsAlreadyExists()) return false;
  PG_RETURN_IF_ERROR(put);
  return true;
}

Result<bool> KeyCache::DeleteDeployKey(lmdb::Txn& txn, std::string_view app, std::string_view name) {
  return txn.Delete(dbi(Table::kDeployKeys), CompositeKey(app, name));
}

Result<std::vector<DeployKeyEntry>> KeyCache::DeployKeys(const lmdb::Txn& txn, std::string_view app) const {
  std::vector<DeployKeyEntry> out;
  if (!HasTable(Table::kDeployKeys)) return out;
  PG_RETURN_IF_ERROR(ScanPrefix(txn, Table::kDeployKeys, CompositeKey(app, ""),
                                [&out](std::string_view name, std::string_view value) {
                                  PG_ASSIGN_OR_RETURN(DeployKeyEntry entry, DecodeDeployKey(name, value));
                                  out.push_back(std::move(entry));
                                  return Status::OK();
                                }));
  return out;
}

Status KeyCache::TEST_PutRaw(lmdb::Txn& txn, Table table, std::string_view key, std::string_view value) {
  return txn.Put(dbi(table), key, value);
}

}  // namespace pushgate
