// gen_keys TYPE COUNT [SEED]: prints COUNT distinct, well-formed public key
// lines ("TYPE BASE64 bench-N") for benchmarks. TYPE is ed25519 or rsa (3072
// bits). The key material is pseudo-random, not from a key generator: a
// parser accepts it exactly as it accepts real keys, and generating a million
// real keys would take hours.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

uint64_t g_state;

uint64_t Next() {  // splitmix64
  uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
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

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(Next());
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

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "ed25519") != 0 && std::strcmp(argv[1], "rsa") != 0)) {
    std::fprintf(stderr, "usage: gen_keys ed25519|rsa COUNT [SEED]\n");
    return 2;
  }
  bool rsa = std::strcmp(argv[1], "rsa") == 0;
  long count = std::atol(argv[2]);
  g_state = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  std::string line;
  for (long i = 0; i < count; ++i) {
    std::string blob;
    if (rsa) {
      PutString(blob, "ssh-rsa");
      PutString(blob, std::string("\x01\x00\x01", 3));  // e = 65537
      std::string n = RandomBytes(384);                 // 3072-bit modulus
      n[0] = static_cast<char>(n[0] | 0x80);
      n[383] = static_cast<char>(n[383] | 0x01);
      PutString(blob, std::string(1, '\0') + n);        // mpint: leading zero, top bit set
    } else {
      PutString(blob, "ssh-ed25519");
      PutString(blob, RandomBytes(32));
    }
    line = rsa ? "ssh-rsa " : "ssh-ed25519 ";
    line += Base64(blob);
    line += " bench-" + std::to_string(i) + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return 0;
}
