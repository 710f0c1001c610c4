#include "cache/lmdb.h"

#include <cerrno>

namespace pushgate::lmdb {

Status ToStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::OK();
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND: return Status::NotFound(std::move(msg));
    case MDB_KEYEXIST: return Status::AlreadyExists(std::move(msg));
    case MDB_MAP_FULL:
      return Status::ResourceExhausted(msg + " (the registry reached its size limit)");
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case ENOSPC:
    case ENOMEM: return Status::ResourceExhausted(std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI: return Status::Corruption(std::move(msg));
    case ENOENT: return Status::NotFound(std::move(msg));
    case EACCES:
    case EPERM:
    case EROFS: return Status::PermissionDenied(std::move(msg));
    default: return Status::IOError(std::move(msg));
  }
}

Result<Txn> Txn::Begin(MDB_env* env, unsigned flags) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, flags, &txn);
  if (rc == MDB_READERS_FULL) {
    // Slots of readers that were killed mid-transaction (a keys helper
    // killed by sshd's timeout or kill -9): free them and try once more.
    // Only here, not on every open, so the keys helper's hit path does no
    // extra work.
    int dead = 0;
    if (mdb_reader_check(env, &dead) == MDB_SUCCESS && dead > 0) rc = mdb_txn_begin(env, nullptr, flags, &txn);
  }
  if (rc != MDB_SUCCESS) return ToStatus(rc, "begin transaction");
  return Txn(txn);
}

Status Txn::Commit() {
  MDB_txn* txn = std::exchange(txn_, nullptr);
  if (txn == nullptr) return Status::Internal("commit of a finished transaction");
  return ToStatus(mdb_txn_commit(txn), "commit");
}

Result<std::optional<std::string_view>> Txn::Get(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = ToVal(key);
  MDB_val v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != MDB_SUCCESS) return ToStatus(rc, "read");
  return std::optional<std::string_view>(FromVal(v));
}

Status Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  return ToStatus(mdb_put(txn_, dbi, &k, &v, flags), "write");
}

Result<bool> Txn::Delete(MDB_dbi dbi, std::string_view key) {
  MDB_val k = ToVal(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return ToStatus(rc, "delete");
  return true;
}

Result<Cursor> Cursor::Open(const Txn& txn, MDB_dbi dbi) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbi, &c);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "open cursor");
  return Cursor(c);
}

Result<bool> Cursor::Move(MDB_cursor_op op) {
  int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != MDB_SUCCESS) return ToStatus(rc, "cursor");
  return true;
}

Result<bool> Cursor::Seek(std::string_view key) {
  key_ = ToVal(key);
  return Move(MDB_SET_RANGE);
}

Result<bool> Cursor::First() { return Move(MDB_FIRST); }
Result<bool> Cursor::Next() { return Move(MDB_NEXT); }

}  // namespace pushgate::lmdb
