// The `pushgate` admin CLI: one table of subcommands (group, name, help, how
// to declare its arguments, what to run). main() builds the CLI11 parser from
// the table and dispatches; each command is a function returning a Status.
#ifndef PUSHGATE_CLI_COMMANDS_H_
#define PUSHGATE_CLI_COMMANDS_H_

#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace CLI {
class App;
}

namespace pushgate {

// Every argument any command takes; each command declares the ones it uses.
struct CommandArgs {
  std::string config_path;
  std::string user;
  std::string app;
  std::string file;
  std::string fingerprint;
  std::vector<std::string> members;
  std::string name;   // app key: the deploy key's name; user principal: the principal
  bool push = false;  // app key add: may push
  std::string version;  // release rollback: "v3", or "" for the previous release
  bool purge = false;
  std::string state;  // drain: "on", "off" or "" (show)
  std::string wait;   // drain on: how long to wait for pushes in flight ("" = don't)
  std::string key;    // config get: which setting
  bool json = false;
  bool ready = false;  // status: answer as a readiness probe
  bool file_only = false;  // config check: not this machine
  // Set by a command whose exit status says more than success: `status`
  // exits with the gateway's health (0, 1, 2) so it can serve as a probe.
  int exit_code = 0;
};

struct Command {
  const char* group;  // one of CommandGroups(), or nullptr for a top-level command
  const char* name;
  const char* help;
  void (*declare)(CLI::App& command, CommandArgs& args);
  Status (*run)(CommandArgs& args);
  // The exit status when `run` fails. A probe (`status`) must not read a
  // failure as "degraded" (1), so it says 2 ("down").
  int failure_exit = 1;
};

// The words that group commands ("user" in `pushgate user add`). A group
// inside another is named by both words ("app key").
struct CommandGroup {
  const char* name;
  const char* help;
};

std::span<const Command> Commands();
std::span<const CommandGroup> CommandGroups();

}  // namespace pushgate

#endif  // PUSHGATE_CLI_COMMANDS_H_
