// Checking a certificate's CA signature, and SHA256 fingerprints: the
// libcrypto adapter of the sshcert module. pushgate-sshd links it; under
// OpenSSH, sshd does this itself (TrustedUserCAKeys).
#ifndef PUSHGATE_SSHCERT_SIGNATURE_H_
#define PUSHGATE_SSHCERT_SIGNATURE_H_

#include <string>
#include <string_view>

#include "sshcert/sshcert.h"
#include "util/status.h"

namespace pushgate {

// OK if cert.signature is a valid signature by cert.signature_key over
// cert.signed_data. CA keys: ssh-ed25519, ecdsa-sha2-nistp256/384/521, and
// ssh-rsa signing with rsa-sha2-256 or rsa-sha2-512 (SHA-1 "ssh-rsa"
// signatures are refused, as OpenSSH refuses them). Anything else, or a bad
// signature, is PermissionDenied.
Status VerifyCertificateSignature(const Certificate& cert);

// The SHA256 digest of `data` (32 raw bytes).
std::string Sha256(std::string_view data);

// "SHA256:" + unpadded base64 of Sha256(blob): what ssh-keygen -l and sshd's
// %f and %F print for a key blob.
std::string Sha256Fingerprint(std::string_view blob);

}  // namespace pushgate

#endif  // PUSHGATE_SSHCERT_SIGNATURE_H_
