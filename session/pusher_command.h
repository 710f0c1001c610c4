// The commands a pusher may run over ssh besides git, parsed as strictly as
// git's (ssh_command.h): exact words, single spaces, valid app names and
// versions, nothing else. No shell ever sees them.
//
//   (no command)          a greeting: who you are and what you may push to
//   info [--json]         who you are, your key, your apps and your access
//   releases APP          the app's releases
//   rollback APP [vN]     make an older release current again
//   logs APP [vN]         the log of the latest build, or of release N's
#ifndef PUSHGATE_SESSION_PUSHER_COMMAND_H_
#define PUSHGATE_SESSION_PUSHER_COMMAND_H_

#include <optional>
#include <string>
#include <string_view>

namespace pushgate {

enum class PusherCommandKind { kHello, kInfo, kReleases, kRollback, kLogs };

struct PusherCommand {
  PusherCommandKind kind = PusherCommandKind::kHello;
  std::string app;             // releases, rollback, logs
  std::optional<int> version;  // rollback, logs: vN
  bool json = false;           // info --json
};

// Either a command or the line that tells the pusher what is wrong.
struct ParsedPusherCommand {
  bool ok = false;
  PusherCommand command;
  std::string error;
};

// `original_command` is what the client asked to run (nullopt or empty for
// a plain `ssh git@host`). `git_user` makes the usage lines say how to call.
ParsedPusherCommand ParsePusherCommand(const std::optional<std::string>& original_command, std::string_view git_user);

// The command as the pusher would type it ("rollback web v3").
std::string FormatPusherCommand(const PusherCommand& command);

// The commands and their arguments, for help and error lines.
inline constexpr std::string_view kPusherCommandList =
    "info [--json], releases APP, rollback APP [vN], logs APP [vN], and git push/fetch";

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_PUSHER_COMMAND_H_
