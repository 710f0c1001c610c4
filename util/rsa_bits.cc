#include "util/rsa_bits.h"

#include "util/ssh_wire.h"

namespace pushgate {

int RsaModulusBits(std::string_view base64_blob) {
  if (base64_blob.size() > 16384) return 0;
  std::optional<std::string> blob = DecodeBase64(base64_blob);
  if (!blob) return 0;
  WireReader in(*blob);
  std::string_view type, exponent, modulus;
  if (!in.ReadString(type) || type != "ssh-rsa" || !in.ReadString(exponent) || !in.ReadString(modulus) ||
      !in.empty()) {
    return 0;
  }
  // An mpint is big-endian two's complement: a leading zero byte keeps a
  // positive number's top bit clear.
  while (!modulus.empty() && modulus.front() == '\0') modulus.remove_prefix(1);
  if (modulus.empty()) return 0;
  int bits = static_cast<int>(modulus.size()) * 8;
  for (unsigned char top = static_cast<unsigned char>(modulus.front()); (top & 0x80) == 0; top <<= 1) --bits;
  return bits;
}

}  // namespace pushgate
