// pushgate-shell --config FILE --user USER --key FINGERPRINT [--ca FINGERPRINT]
//
// The forced command on every key pushgate-keys accepts (forced_command.h).
// Exit status: 1 for a refused request (with a one-line message on stderr),
// otherwise git's; 2 for a usage error.
#include <CLI/CLI.hpp>
#include <optional>

#include "config/config.h"
#include "program/command_line.h"
#include "sshd-plugin/forced_command.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate forced command: serves git push and fetch for one authenticated user", "pushgate-shell");
  pushgate::ForcedCommandOptions options;
  options.config_path = pushgate::kDefaultConfigPath;
  app.add_option("--config", options.config_path, "configuration file")->capture_default_str();
  app.add_option("--user", options.user, "platform user the key belongs to")->required();
  app.add_option("--key", options.fingerprint, "SHA256 fingerprint of the authenticated key")->required();
  app.add_option("--ca", options.ca_fingerprint, "SHA256 fingerprint of the CA, for an SSH certificate");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  return pushgate::RunForcedCommand(options);
}
