#include "util/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <utility>
#include <vector>

#include "util/fs.h"
#include "util/json_writer.h"

namespace pushgate::log {
namespace {

// One per process. Every function below takes `mu`: a process may log from
// more than one thread (the reaper's trash emptier), and a rotation closes
// the descriptor the others write to.
struct State {
  std::mutex mu;
  std::string program = "pushgate";
  Destination destination;
  Level min_level = Level::kInfo;
  int file_fd = -1;
  int stderr_fd = STDERR_FILENO;
  std::vector<std::pair<std::string, std::string>> context;
};

State& GetState() {
  static State state;
  return state;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

int SyslogPriority(Level level) {
  switch (level) {
    case Level::kDebug: return LOG_DEBUG;
    case Level::kInfo: return LOG_INFO;
    case Level::kWarn: return LOG_WARNING;
    case Level::kError: return LOG_ERR;
  }
  return LOG_INFO;
}

std::string Timestamp() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1000000);
  return buf;
}

void OpenFile(State& s) {
  if (s.file_fd >= 0) ::close(s.file_fd);
  s.file_fd = ::open(s.destination.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// Many processes append to the file; the one whose line takes it past the
// limit renames it, unless another already has (the path then names a
// newer file), and every process moves to the new file on its next check.
void RotateIfLarge(State& s) {
  struct stat ours, current;
  if (::fstat(s.file_fd, &ours) != 0 || ours.st_size < s.destination.rotate_bytes) return;
  const std::string& path = s.destination.path;
  if (::stat(path.c_str(), &current) == 0 && current.st_ino == ours.st_ino && current.st_dev == ours.st_dev) {
    // Logging never fails the caller: a failed rotation keeps appending.
    (void)::rename(path.c_str(), (path + ".1").c_str());
  }
  OpenFile(s);
}

}  // namespace

Result<Destination> ParseDestination(std::string_view text) {
  Destination d;
  if (text == "stderr") return d;
  if (text == "syslog") {
    d.kind = Destination::Kind::kSyslog;
    return d;
  }
  if (!text.empty() && text.front() == '/') {
    d.kind = Destination::Kind::kFile;
    d.path = std::string(text);
    return d;
  }
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a log destination; use stderr, syslog or an absolute file path");
}

Result<Level> ParseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn") return Level::kWarn;
  if (text == "error") return Level::kError;
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a log level; use debug, info, warn or error");
}

// Configure with `s.mu` held.
void ConfigureLocked(State& s, std::string_view program, const Destination& destination, Level min_level) {
  s.program = std::string(program);
  s.destination = destination;
  s.min_level = min_level;
  if (s.file_fd >= 0) {
    (void)::close(s.file_fd);  // opened for appending only: nothing to lose
    s.file_fd = -1;
  }
  if (destination.kind == Destination::Kind::kFile) {
    OpenFile(s);
    // An unwritable log file must not stop a push; fall back to syslog.
    if (s.file_fd < 0) s.destination.kind = Destination::Kind::kSyslog;
  }
  if (s.destination.kind == Destination::Kind::kSyslog) {
    // No LOG_NDELAY: the socket is opened on the first line, so a quiet run
    // (the keys helper's hit path) never connects to syslog.
    ::openlog(s.program.c_str(), LOG_PID, LOG_AUTH);
  }
}

void Configure(std::string_view program, const Destination& destination, Level min_level) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  ConfigureLocked(s, program, destination, min_level);
}

void ReopenAfterStdioChange(int fd) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.stderr_fd = fd;
  s.file_fd = -1;  // closed with the rest of the old descriptors
  if (s.destination.kind == Destination::Kind::kSyslog) ::closelog();
  Destination destination = s.destination;
  std::string program = s.program;
  ConfigureLocked(s, program, destination, s.min_level);
}

void SetContext(std::string_view key, std::string_view value) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [k, v] : s.context) {
    if (k == key) {
      v = std::string(value);
      return;
    }
  }
  s.context.emplace_back(std::string(key), std::string(value));
}

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (level < s.min_level) return;
  JsonObject line;
  line.Add("time", Timestamp());
  line.Add("level", LevelName(level));
  line.Add("program", s.program);
  line.Add("pid", static_cast<int64_t>(::getpid()));
  line.Add("msg", message);
  for (const auto& [k, v] : s.context) line.Add(k, v);
  for (const Field& f : fields) line.Add(f.key, f.value);
  std::string text = line.Finish();
  switch (s.destination.kind) {
    case Destination::Kind::kSyslog:
      ::syslog(SyslogPriority(level), "%s", text.c_str());
      return;
    case Destination::Kind::kFile:
      text += '\n';
      (void)WriteAll(s.file_fd, text);  // logging never fails the caller
      RotateIfLarge(s);
      return;
    case Destination::Kind::kStderr:
      text += '\n';
      (void)WriteAll(s.stderr_fd, text);
      return;
  }
}

}  // namespace pushgate::log
