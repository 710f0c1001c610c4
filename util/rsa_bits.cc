#include "util/rsa_bits.h"

#include <cstdint>
#include <string>

namespace pushgate {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64, '=' padding allowed only at the end; false otherwise.
bool DecodeBase64(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = Base64Value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return false;
  }
  return true;
}

// Reads one SSH "string" (a 32-bit big-endian length, then that many bytes).
bool ReadString(std::string_view& in, std::string_view& out) {
  if (in.size() < 4) return false;
  uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(in[0])) << 24) |
               (static_cast<uint32_t>(static_cast<unsigned char>(in[1])) << 16) |
               (static_cast<uint32_t>(static_cast<unsigned char>(in[2])) << 8) |
               static_cast<uint32_t>(static_cast<unsigned char>(in[3]));
  in.remove_prefix(4);
  if (n > in.size()) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

int RsaModulusBits(std::string_view base64_blob) {
  std::string blob;
  if (base64_blob.size() > 16384 || !DecodeBase64(base64_blob, blob)) return 0;
  std::string_view in = blob, type, exponent, modulus;
  if (!ReadString(in, type) || type != "ssh-rsa" || !ReadString(in, exponent) || !ReadString(in, modulus) ||
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
