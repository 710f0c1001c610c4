// Incremental SHA-256 for content-addressing the source archives. Large
// inputs go to libcrypto, whose SHA-NI and AVX2 code hashes about 1.7 GB/s
// here against 270 MB/s for util/sha256.h; libcrypto is loaded on demand
// (util/shared_library.h), since loading it costs a process about 3 ms and
// the hook starts on every push. An input up to kSmallHashInput is buffered
// and hashed by util/sha256.h instead, in under a millisecond, so a small
// app's archive never loads libcrypto at all.
#ifndef PUSHGATE_SOURCE_ARCHIVE_SHA256_H_
#define PUSHGATE_SOURCE_ARCHIVE_SHA256_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

inline constexpr size_t kSmallHashInput = 256 << 10;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // 64 lowercase hex digits. The object cannot be updated afterwards.
  // Unavailable if the input outgrew kSmallHashInput and libcrypto cannot
  // be loaded.
  Result<std::string> FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of a whole file, read in chunks.
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace pushgate

#endif  // PUSHGATE_SOURCE_ARCHIVE_SHA256_H_
