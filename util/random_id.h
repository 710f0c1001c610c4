// Random identifiers (request ids, temporary names) from the kernel's CSPRNG.
#ifndef PUSHGATE_UTIL_RANDOM_ID_H_
#define PUSHGATE_UTIL_RANDOM_ID_H_

#include <cstddef>
#include <string>

namespace pushgate {

// `bytes` random bytes as lowercase hex (2 * bytes characters).
std::string RandomHex(size_t bytes);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_RANDOM_ID_H_
