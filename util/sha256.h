// SHA-256 (FIPS 180-4), dependency-free, for the small digests a process on
// the push path needs: the OpenSSH fingerprint of a key blob. Loading
// libcrypto (or libssh, which brings it and Kerberos) for one hash of a few
// hundred bytes cost pushgate-shell more than the rest of its access check.
// A source archive of up to 256 KiB is hashed here too; a larger one goes
// to libcrypto, whose SHA-NI and AVX2 code is several times faster on large
// inputs (source-archive/sha256.h).
#ifndef PUSHGATE_UTIL_SHA256_H_
#define PUSHGATE_UTIL_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pushgate {

class Sha256Digest {
 public:
  Sha256Digest();
  void Update(std::string_view data);
  // The 32-byte digest; the object is spent afterwards.
  std::string Finish();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed so far
};

// The 32-byte SHA-256 digest of `data`.
std::string Sha256Bytes(std::string_view data);

// `bytes` in lowercase hexadecimal, two digits a byte: how digests and
// object ids are written.
std::string LowerHex(std::string_view bytes);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_SHA256_H_
