// Durations as written in pushgate's configuration: "500ms", "30s", "10m",
// "2h", or several parts such as "1h30m".
#ifndef PUSHGATE_UTIL_DURATION_H_
#define PUSHGATE_UTIL_DURATION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

using Duration = std::chrono::milliseconds;

// Parses a non-negative duration. Units: ms, s, m, h. A bare number is an
// error (the unit must be explicit so "30" is never misread as 30 ms).
Result<Duration> ParseDuration(std::string_view text);

// Formats in the largest exact units: 90000ms -> "1m30s", 1500ms -> "1s500ms".
std::string FormatDuration(Duration d);

// Wall-clock time in unix milliseconds, the unit the key cache and the
// metadata files record times in.
inline int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix seconds as UTC "2026-12-02T17:36:53Z", for people and scripts alike.
std::string FormatUnixTime(int64_t unix_seconds);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_DURATION_H_
