// Status and Result<T>: errors as values across module boundaries.
//
// Every fallible function in pushgate returns one of these. The message is
// written for the person who will read it (an operator or a pusher) and says
// what happened; callers add context with Status::Annotate rather than
// replacing it. Adapters for C libraries (errno, MDB_*, libgit2, libssh,
// libarchive) live next to the code that wraps each library and are the only
// places that translate foreign error codes.
#ifndef PUSHGATE_UTIL_STATUS_H_
#define PUSHGATE_UTIL_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pushgate {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidArgument,
    kAlreadyExists,
    kPermissionDenied,
    kUnavailable,       // a dependency (controller, lock holder) cannot answer now
    kTimeout,
    kCorruption,        // stored data does not decode
    kIOError,
    kResourceExhausted, // disk full, map full, too many readers
    kInternal,
    kUnimplemented,     // a peer lacks what pushgate was configured to use (a controller route)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status ResourceExhausted(std::string msg) {
    return Status(Code::kResourceExhausted, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status Unimplemented(std::string msg) { return Status(Code::kUnimplemented, std::move(msg)); }

  // Maps an errno value to a Status; `what` names the operation and object,
  // e.g. "open /var/lib/pushgate/db".
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  bool IsTimeout() const { return code_ == Code::kTimeout; }

  // Returns a copy whose message is prefixed with `context`: "context: message".
  Status Annotate(std::string_view context) const;

  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace pushgate

// Propagates a non-OK Status from an expression returning Status.
#define PG_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::pushgate::Status pg_status_ = (expr);      \
    if (!pg_status_.ok()) return pg_status_;     \
  } while (0)

#define PG_CONCAT_INNER_(a, b) a##b
#define PG_CONCAT_(a, b) PG_CONCAT_INNER_(a, b)

// `PG_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a Result or returns its Status.
#define PG_ASSIGN_OR_RETURN(decl, expr) \
  PG_ASSIGN_OR_RETURN_IMPL_(PG_CONCAT_(pg_result_, __LINE__), decl, expr)
#define PG_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  decl = std::move(tmp).value()

#endif  // PUSHGATE_UTIL_STATUS_H_
