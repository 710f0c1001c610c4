// OpenSSH user certificates and key revocation lists (KRLs), read from their
// wire formats (OpenSSH's PROTOCOL.certkeys and PROTOCOL.krl).
//
// Pure parsing and matching, with no library behind it: the principals
// helper (lean, like the keys helper) and pushgate-sshd both use it. Checking
// a certificate's signature needs cryptography and lives beside it, in
// sshcert/signature.h, which only pushgate-sshd links: under OpenSSH, sshd
// has verified the signature before pushgate sees the certificate.
#ifndef PUSHGATE_SSHCERT_SSHCERT_H_
#define PUSHGATE_SSHCERT_SSHCERT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace pushgate {

struct Certificate {
  static constexpr uint32_t kUserType = 1;
  static constexpr uint32_t kHostType = 2;

  std::string type;       // "ssh-ed25519-cert-v01@openssh.com"
  std::string plain_key;  // the certified key's own blob ("ssh-ed25519" ...)
  uint64_t serial = 0;
  uint32_t cert_type = 0;  // kUserType or kHostType
  std::string key_id;
  std::vector<std::string> principals;
  uint64_t valid_after = 0;   // unix seconds
  uint64_t valid_before = 0;  // unix seconds; UINT64_MAX: forever
  std::vector<std::pair<std::string, std::string>> critical_options;  // name, decoded value
  std::vector<std::string> extensions;                                // names
  std::string signature_key;  // the CA's public key blob
  std::string signature;      // the CA's signature blob over signed_data
  std::string signed_data;    // every byte of the certificate before the signature
};

// Parses a certificate blob (the decoded base64 of a "-cert.pub" line).
// Only the certificate types whose plain key type is on pushgate's key
// allowlist (util/names.h) are accepted; anything malformed, truncated or
// followed by extra bytes is InvalidArgument.
Result<Certificate> ParseCertificate(std::string_view blob);
// The same, from the base64 text of a certificate line (sshd's %k, libssh's export).
Result<Certificate> ParseCertificateBase64(std::string_view base64);

// True if `type` names a certificate type ("...-cert-v01@openssh.com").
bool IsCertificateType(std::string_view type);

// The value of critical option `name` ("source-address", "force-command"),
// or nullptr if the certificate does not carry it.
const std::string* FindCriticalOption(const Certificate& cert, std::string_view name);

// Why a certificate may not log in on its own terms (before any question of
// who it maps to): not a user certificate, outside its validity window at
// `now`, or carrying a critical option pushgate does not know. Empty if
// none of these.
std::string CertificateRefusal(const Certificate& cert, uint64_t now);

// A parsed KRL (`ssh-keygen -k`). Revokes() answers as OpenSSH does for a
// certificate: by the certified key's blob or SHA256, or by the CA together
// with the certificate's serial or key id.
class RevocationList {
 public:
  // Parses a KRL file's bytes. Sections pushgate cannot match (SHA1
  // fingerprints) are an error, so a caller fails closed rather than let a
  // key it was told to revoke in.
  static Result<RevocationList> Parse(std::string_view data);

  // `plain_key_sha256` is the 32-byte SHA256 digest of cert.plain_key.
  bool Revokes(const Certificate& cert, std::string_view plain_key_sha256) const;

 private:
  struct CaSection {
    std::string ca_key;  // empty: applies to certificates of any CA
    std::vector<std::pair<uint64_t, uint64_t>> serial_ranges;  // inclusive
    std::vector<std::pair<uint64_t, std::string>> serial_bitmaps;  // offset, big-endian bitmap
    std::vector<std::string> key_ids;
  };
  static Status ParseCertificateSection(std::string_view data, CaSection& out);

  std::vector<CaSection> ca_sections_;
  std::vector<std::string> explicit_keys_;  // plain key blobs
  std::vector<std::string> sha256_keys_;    // raw digests
};

}  // namespace pushgate

#endif  // PUSHGATE_SSHCERT_SSHCERT_H_
