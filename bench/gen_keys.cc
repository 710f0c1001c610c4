// gen_keys TYPE COUNT [SEED]: prints COUNT distinct, well-formed public key
// lines ("TYPE BASE64 bench-N") for benchmarks. TYPE is ed25519 or rsa (3072
// bits). See tests/testing/synthetic_keys.h.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/testing/synthetic_keys.h"

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "ed25519") != 0 && std::strcmp(argv[1], "rsa") != 0)) {
    std::fprintf(stderr, "usage: gen_keys ed25519|rsa COUNT [SEED]\n");
    return 2;
  }
  auto type = std::strcmp(argv[1], "rsa") == 0 ? pushgate::testing::SyntheticKeyType::kRsa3072
                                               : pushgate::testing::SyntheticKeyType::kEd25519;
  long count = std::atol(argv[2]);
  unsigned long long seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  for (long i = 0; i < count; ++i) {
    std::string line = pushgate::testing::SyntheticKeyLine(type, seed * 1000000007ull + static_cast<unsigned long long>(i),
                                                           "bench-" + std::to_string(i));
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return 0;
}
