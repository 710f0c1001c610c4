#include "tests/testing/synthetic_keys.h"

namespace pushgate::testing {
namespace {


uint64_t Next(uint64_t& state) {  // splitmix64
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void PutString(std::string& out, const std::string& s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out += s;
}

std::string RandomBytes(uint64_t& state, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(Next(state));
  return s;
}

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

std::string SyntheticKeyLine(SyntheticKeyType type, uint64_t seed, const std::string& comment) {
  uint64_t state = seed * 0x2545F4914F6CDD1Dull + 1;
  std::string blob;
  if (type == SyntheticKeyType::kRsa3072) {
    PutString(blob, "ssh-rsa");
    PutString(blob, std::string("\x01\x00\x01", 3));  // e = 65537
    std::string n = RandomBytes(state, 384);            // 3072-bit modulus
    n[0] = static_cast<char>(n[0] | 0x80);
    n[383] = static_cast<char>(n[383] | 0x01);
    PutString(blob, std::string(1, '\0') + n);         // mpint: leading zero, top bit set
    return "ssh-rsa " + Base64(blob) + " " + comment;
  }
  PutString(blob, "ssh-ed25519");
  PutString(blob, RandomBytes(state, 32));
  return "ssh-ed25519 " + Base64(blob) + " " + comment;
}

}  // namespace pushgate::testing
