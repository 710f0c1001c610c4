// Well-formed public key lines from a seed, for tests and benchmarks that
// need thousands or millions of distinct keys. The key material is
// pseudo-random rather than generated: parsers (libssh, ssh-keygen -l)
// accept the lines exactly as real keys, and a million real keys would take
// hours to generate.
#ifndef PUSHGATE_TESTS_TESTING_SYNTHETIC_KEYS_H_
#define PUSHGATE_TESTS_TESTING_SYNTHETIC_KEYS_H_

#include <cstdint>
#include <string>

namespace pushgate::testing {

enum class SyntheticKeyType { kEd25519, kRsa3072 };

// "TYPE BASE64 COMMENT"; the same seed always gives the same key.
std::string SyntheticKeyLine(SyntheticKeyType type, uint64_t seed, const std::string& comment);

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_TESTING_SYNTHETIC_KEYS_H_
