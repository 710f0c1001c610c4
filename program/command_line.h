// Command lines, parsed the same way by every pushgate program: a usage
// error says what is wrong in one line, points at --help and exits 2 (never
// CLI11's own codes), --help and --version exit 0.
#ifndef PUSHGATE_PROGRAM_COMMAND_LINE_H_
#define PUSHGATE_PROGRAM_COMMAND_LINE_H_

#include <optional>

#include "program/flags.h"

namespace CLI {
class App;
}

namespace pushgate {

// Parses `argv` into `app`. nullopt: go on; otherwise exit with this status
// (the message is printed already).
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

}  // namespace pushgate

#endif  // PUSHGATE_PROGRAM_COMMAND_LINE_H_
