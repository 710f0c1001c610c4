// pushgate-hook: git's pre-receive hook, installed as hooks/pre-receive in
// pushgate's hooks directory (hook_program.h).
#include <optional>
#include <string>

#include "program/flags.h"
#include "program/startup.h"
#include "receive-hook/hook_program.h"

int main(int argc, char** argv) {
  std::string config_path = pushgate::EnvOrEmpty("PUSHGATE_CONFIG");
  const pushgate::Flag flags[] = {
      {"--config", "FILE", "configuration file; $PUSHGATE_CONFIG when not given", &config_path},
  };
  if (std::optional<int> exit = pushgate::ParseFlags(
          "pushgate-hook", "pushgate's pre-receive hook; git runs it, with PUSHGATE_* set by pushgate-shell", flags,
          argc, argv)) {
    return *exit;
  }
  return pushgate::RunHookProgram(config_path);
}
