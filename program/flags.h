// The command lines of the programs that start on every push
// (pushgate-shell, pushgate-hook): a few `--name VALUE` options, parsed
// without CLI11. CLI11's iostream and static initialisers, and the building
// of its parser, cost each start 1 to 2 ms here (2 ms in an empty program,
// 1 ms of the hook's; docs/performance.md);
// these command lines are written by pushgate itself (the keys helper's
// forced command, the hooks directory), so a general parser buys nothing.
// Usage errors read as ParseCommandLine's: one line naming what is wrong,
// then "Try 'PROGRAM --help'.", exit 2.
#ifndef PUSHGATE_PROGRAM_FLAGS_H_
#define PUSHGATE_PROGRAM_FLAGS_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pushgate {

// The exit status of every pushgate program's usage errors.
inline constexpr int kUsageExit = 2;

// Prints "COMMAND: MESSAGE" and "Try 'COMMAND --help'." on stderr, as every
// pushgate program reports a usage error, and returns kUsageExit.
int ReportUsageError(std::string_view command, std::string_view message);

struct Flag {
  std::string_view name;     // "--config"
  std::string_view metavar;  // "FILE", in the help
  std::string_view help;
  std::string* value;  // set when given; keeps its default otherwise
  bool required = false;
};

// Parses `--name VALUE` and `--name=VALUE` into `flags`. nullopt: go on;
// otherwise exit with this status, the message already printed: 0 after
// --help (on stdout), 2 for a usage error (on stderr): an unknown option, a
// missing value, an option given twice, a required one missing, or any word
// that is not an option.
std::optional<int> ParseFlags(std::string_view program, std::string_view summary, std::span<const Flag> flags, int argc,
                              const char* const* argv);

}  // namespace pushgate

#endif  // PUSHGATE_PROGRAM_FLAGS_H_
