// Reading the SSH wire format (RFC 4251 section 5) and the base64 that
// carries it in key files. Dependency-free, so the keys and principals
// helpers can read key and certificate blobs without libssh.
#ifndef PUSHGATE_UTIL_SSH_WIRE_H_
#define PUSHGATE_UTIL_SSH_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pushgate {

// Standard base64, '=' padding allowed only at the end; nullopt otherwise.
std::optional<std::string> DecodeBase64(std::string_view in);

// Standard base64 of `bytes`; with `pad`, '='-padded to a multiple of four
// (as key blobs are written), without it as OpenSSH prints fingerprints.
std::string EncodeBase64(std::string_view bytes, bool pad);

// OpenSSH's text for a SHA256 fingerprint, as sshd's %f and ssh-keygen -l
// print it: "SHA256:" and the 32-byte digest in unpadded base64.
std::string FingerprintText(std::string_view digest);

// The next field of an authorized_keys-style line: skips spaces and tabs,
// then takes up to the next one, and consumes both from `rest`.
std::string_view NextKeyLineField(std::string_view& rest);

// The OpenSSH SHA256 fingerprint ("SHA256:" and unpadded base64, as sshd's
// %f) of the key on an authorized_keys-style line "TYPE BLOB [COMMENT]", if
// TYPE is an allowed key type (util/names.h), BLOB is canonical base64 and
// the blob's own type field is TYPE; nullopt otherwise. The key itself is not
// parsed: this is for comparing a listed key with one sshd already verified.
std::optional<std::string> KeyLineSha256Fingerprint(std::string_view line);

// Consumes fields from the front of a byte string. Every Read* returns false,
// and leaves the reader unusable (ok() false), once the input is too short.
class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}

  bool ReadByte(uint8_t& out);
  bool ReadU32(uint32_t& out);
  bool ReadU64(uint64_t& out);
  bool ReadString(std::string_view& out);  // a u32 length, then that many bytes

  bool ok() const { return ok_; }
  bool empty() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  bool Fail() { return ok_ = false; }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_SSH_WIRE_H_
