// The one adapter between pushgate and LMDB: RAII for the environment,
// transactions and cursors, and the mapping of MDB_* codes to Status.
#ifndef PUSHGATE_CACHE_LMDB_H_
#define PUSHGATE_CACHE_LMDB_H_

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate::lmdb {

// Maps an MDB_* or errno return code to a Status; `what` names the operation.
Status ToStatus(int rc, std::string_view what);

inline MDB_val ToVal(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view FromVal(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

struct EnvDeleter {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using EnvPtr = std::unique_ptr<MDB_env, EnvDeleter>;

// A transaction, aborted on destruction unless committed.
class Txn {
 public:
  Txn() = default;
  ~Txn() { Abort(); }
  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept {
    if (this != &other) {
      Abort();
      txn_ = std::exchange(other.txn_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  static Result<Txn> Begin(MDB_env* env, unsigned flags);

  MDB_txn* get() const { return txn_; }
  Status Commit();
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }

  // Point lookup. The returned view points into the map and is valid until
  // the transaction ends or (in a write transaction) the next write.
  Result<std::optional<std::string_view>> Get(MDB_dbi dbi, std::string_view key) const;
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
  // Deleting a missing key is not an error; returns whether it existed.
  Result<bool> Delete(MDB_dbi dbi, std::string_view key);

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// A cursor bound to a transaction; closed on destruction.
class Cursor {
 public:
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Cursor(Cursor&& other) noexcept : cursor_(std::exchange(other.cursor_, nullptr)) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  Cursor& operator=(Cursor&&) = delete;

  static Result<Cursor> Open(const Txn& txn, MDB_dbi dbi);

  // Positions at the first key >= `key` (MDB_SET_RANGE) or the first key
  // (MDB_FIRST), then advances with Next. Each returns false at the end.
  Result<bool> Seek(std::string_view key);
  Result<bool> First();
  Result<bool> Next();
  std::string_view key() const { return FromVal(key_); }
  std::string_view value() const { return FromVal(value_); }

 private:
  explicit Cursor(MDB_cursor* c) : cursor_(c) {}
  Result<bool> Move(MDB_cursor_op op);
  MDB_cursor* cursor_ = nullptr;
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
};

}  // namespace pushgate::lmdb

#endif  // PUSHGATE_CACHE_LMDB_H_
