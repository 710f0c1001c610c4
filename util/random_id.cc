#include "util/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <vector>

namespace pushgate {

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = ::getrandom(buf.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // getrandom cannot fail for small requests on Linux >= 3.17
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace pushgate
