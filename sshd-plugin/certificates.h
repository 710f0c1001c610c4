// SSH user certificates: who a certificate logs in as, decided the same way
// for both front ends once its CA signature is known to be good (sshd checked
// it against TrustedUserCAKeys, or pushgate-sshd did with sshcert/signature.h).
//
// Standalone mode only: the trusted CAs and principal mappings are registry
// tables (`pushgate ca`, `pushgate user principal`). A certificate logs in if
//  - it is a user certificate inside its validity window, with no critical
//    option other than force-command and source-address (which the front
//    end enforces),
//  - its CA's fingerprint is trusted (the CA key stored under it is the
//    certificate's signature key, byte for byte),
//  - the KRL at data_dir/ssh/revoked_keys does not revoke it (a missing KRL
//    revokes nothing; an unreadable or malformed one is an error, so every
//    certificate is refused until it is fixed),
//  - its principals name exactly one existing user: a principal maps to the
//    user of its explicit mapping, or else to the user of that name.
//
// Lean like the keys helper: LMDB and the sshcert parser, nothing else.
#ifndef PUSHGATE_SSHD_PLUGIN_CERTIFICATES_H_
#define PUSHGATE_SSHD_PLUGIN_CERTIFICATES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sshcert/sshcert.h"
#include "util/status.h"

namespace pushgate {

struct CertificateQuery {
  const Certificate& cert;
  std::string_view ca_fingerprint;    // "SHA256:..." of cert.signature_key (sshd's %F)
  std::string_view plain_key_sha256;  // the certified key's raw 32-byte SHA256 digest
  uint64_t now = 0;                   // unix seconds
};

struct CertificateLogin {
  std::string user;       // empty: refused
  std::string principal;  // the certificate's principal that named the user
  std::string refusal;    // why it was refused, for the log
};

// Errors: the registry or the KRL could not be read; the caller refuses.
Result<CertificateLogin> AuthorizeCertificate(const Config& config, const CertificateQuery& query);

// pushgate-principals, sshd's AuthorizedPrincipalsCommand, run as
// `pushgate-principals --config F %u %F %f %k`: prints the principals line
// (sshd-plugin/authorized_keys_line.h) for a certificate that logs in, and
// nothing otherwise. Exit status as pushgate-keys: 0 answered, 1 error.
struct PrincipalsQuery {
  std::string_view login_user;      // %u
  std::string_view ca_fingerprint;  // %F
  std::string_view key_fingerprint; // %f: the certified key's
  std::string_view certificate;     // %k: the certificate, base64
};
int RunPrincipalsHelper(const std::string& config_path, const PrincipalsQuery& query);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_CERTIFICATES_H_
