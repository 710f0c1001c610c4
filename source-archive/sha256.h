// Incremental SHA-256 (the libcrypto adapter), for content-addressing the
// source archives.
#ifndef PUSHGATE_SOURCE_ARCHIVE_SHA256_H_
#define PUSHGATE_SOURCE_ARCHIVE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // 64 lowercase hex digits. The object cannot be updated afterwards.
  Result<std::string> FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of a whole file, read in chunks.
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace pushgate

#endif  // PUSHGATE_SOURCE_ARCHIVE_SHA256_H_
