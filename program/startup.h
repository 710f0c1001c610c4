// How every pushgate program starts once its flags are parsed: it logs to
// syslog until the configuration says where, loads the configuration, then
// logs where it says (or where --log-destination says: a sidecar logs to its
// container's stderr), and finds the directory it was installed to, which
// holds its sibling programs and git's hooks. No CLI11 here: the keys
// helper, which parses its fixed arguments by hand, starts the same way.
#ifndef PUSHGATE_PROGRAM_STARTUP_H_
#define PUSHGATE_PROGRAM_STARTUP_H_

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

struct StartOptions {
  std::string program;          // names the log lines: "pushgate-sync"
  std::string config_path;
  std::string log_destination;  // replaces [log] destination when set
  bool refuse_root = false;     // background programs run as git_user only
};

struct Started {
  Config config;
  std::string libexec_dir;  // where this program is installed
};

// PermissionDenied for root when refused; otherwise the error says what
// failed: "cannot load config: FILE:LINE: ..." or "cannot locate the
// installation: ...".
Result<Started> StartProgram(const StartOptions& options);

// Prints "PROGRAM: message" on stderr and returns `exit_code`: how a
// program run by an operator or a sidecar runner fails.
int FailWith(std::string_view program, const Status& status, int exit_code);

// The exit status of a failed StartProgram: 2 for root (a usage error), 1
// otherwise.
int StartFailureExit(const Status& status);

// An environment variable: nullopt if unset / "" if unset.
std::optional<std::string> EnvIfSet(const char* name);
std::string EnvOrEmpty(const char* name);

// Prints `line` and a newline on stderr; never fails the caller.
void PrintError(std::string_view line);

// For programs that serve one session or one push: SIGPIPE is ignored, so a
// vanished peer shows as EPIPE; SIGTERM, SIGHUP and SIGINT set `*stop`.
void StopOnSignals(std::atomic<bool>* stop);

}  // namespace pushgate

#endif  // PUSHGATE_PROGRAM_STARTUP_H_
