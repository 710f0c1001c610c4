// pushgate-hook: git's pre-receive hook, installed as hooks/pre-receive in
// pushgate's hooks directory (hook_program.h).
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "program/command_line.h"
#include "program/startup.h"
#include "receive-hook/hook_program.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate's pre-receive hook; git runs it, with PUSHGATE_* set by pushgate-shell", "pushgate-hook");
  std::string config_path = pushgate::EnvOrEmpty("PUSHGATE_CONFIG");
  app.add_option("--config", config_path, "configuration file (default: $PUSHGATE_CONFIG)");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  return pushgate::RunHookProgram(config_path);
}
