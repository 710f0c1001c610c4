#include "util/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <vector>

#include "util/sha256.h"

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
  return LowerHex(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

}  // namespace pushgate
