// Operational logging: one JSON object per line, to stderr, syslog or a file.
//
// This is for operators, never for pushers: the forced shell and the hook
// talk to the pusher on stderr, so they log to syslog or a file. Each line
// carries the time, level, program, message, the process's context fields
// (request id, app, user, key) and the call's own fields. Every function is
// safe to call from any thread of the process.
#ifndef PUSHGATE_UTIL_LOG_H_
#define PUSHGATE_UTIL_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

struct Field {
  std::string_view key;
  std::string_view value;
};

// Where log lines go: "stderr", "syslog" or an absolute file path (appended).
// A file that grows past rotate_bytes is renamed to PATH.1 (replacing the
// previous one), so a gateway that logs to a file cannot fill its disk.
struct Destination {
  enum class Kind { kStderr, kSyslog, kFile } kind = Kind::kStderr;
  std::string path;
  int64_t rotate_bytes = int64_t{64} << 20;
};
Result<Destination> ParseDestination(std::string_view text);
Result<Level> ParseLevel(std::string_view text);

// Sets up logging for this process. Until called, lines go to stderr at info.
void Configure(std::string_view program, const Destination& destination, Level min_level);

// For a forked process whose stdio now belong to a client (pushgate-sshd's
// session, whose stderr is the pusher's): lines meant for stderr go to
// `fd` instead, and a log file or syslog, whose descriptors the fork closed,
// is opened again.
void ReopenAfterStdioChange(int fd);

// Adds a field to every later line of this process (request_id, app, ...).
void SetContext(std::string_view key, std::string_view value);

void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

}  // namespace pushgate::log

#endif  // PUSHGATE_UTIL_LOG_H_
