// Sizes as written in pushgate's configuration and shown in its messages:
// "512MiB", "1GiB", "100KiB", "2GB" or a plain number of bytes.
#ifndef PUSHGATE_UTIL_BYTE_SIZE_H_
#define PUSHGATE_UTIL_BYTE_SIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

// Parses a size. Units: B, KiB, MiB, GiB, TiB (powers of 1024) and KB, MB,
// GB, TB (powers of 1000); no unit means bytes. No fractions, no spaces
// inside the number.
Result<uint64_t> ParseByteSize(std::string_view text);

// One decimal in the largest binary unit that fits: 1536 -> "1.5 KiB",
// 3 << 30 -> "3.0 GiB", 12 -> "12 bytes".
std::string FormatByteSize(uint64_t bytes);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_BYTE_SIZE_H_
