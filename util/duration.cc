#include "util/duration.h"

#include <cstdint>
#include <ctime>
#include <limits>

namespace pushgate {

Result<Duration> ParseDuration(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration; write it like 500ms, 30s, 10m or 2h");
  };
  if (text.empty()) return invalid();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000;
  int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return invalid();
    int64_t number = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > kMax) return invalid();
      ++i;
    }
    int64_t unit_ms;
    if (text.substr(i, 2) == "ms") {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 60 * 60 * 1000;
      ++i;
    } else {
      return invalid();
    }
    if (number > (kMax - total_ms) / unit_ms) return invalid();
    total_ms += number * unit_ms;
  }
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  auto part = [&](int64_t unit, const char* suffix) {
    if (ms >= unit) {
      out += std::to_string(ms / unit);
      out += suffix;
      ms %= unit;
    }
  };
  part(3600000, "h");
  part(60000, "m");
  part(1000, "s");
  part(1, "ms");
  return out;
}

std::string FormatUnixTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

}  // namespace pushgate
