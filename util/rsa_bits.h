// The size of an RSA public key, read straight from its OpenSSH wire blob
// (base64 of: string "ssh-rsa", mpint e, mpint n). Dependency-free so the
// keys helper can refuse short RSA keys on its hot path without libssh.
#ifndef PUSHGATE_UTIL_RSA_BITS_H_
#define PUSHGATE_UTIL_RSA_BITS_H_

#include <string_view>

namespace pushgate {

// Bits of the modulus of the "ssh-rsa" key whose base64 blob is given; 0 if
// the blob is not a well-formed RSA public key.
int RsaModulusBits(std::string_view base64_blob);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_RSA_BITS_H_
