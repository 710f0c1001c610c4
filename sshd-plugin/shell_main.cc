// pushgate-shell --config FILE --user USER --key FINGERPRINT [--ca FINGERPRINT]
//
// The forced command on every key pushgate-keys accepts (forced_command.h).
// Exit status: 1 for a refused request (with a one-line message on stderr),
// otherwise git's; 2 for a usage error.
#include <optional>

#include "config/config.h"
#include "program/flags.h"
#include "sshd-plugin/forced_command.h"

int main(int argc, char** argv) {
  pushgate::ForcedCommandOptions options;
  options.config_path = pushgate::kDefaultConfigPath;
  const pushgate::Flag flags[] = {
      {"--config", "FILE", "configuration file", &options.config_path},
      {"--user", "USER", "platform user the key belongs to", &options.user, true},
      {"--key", "FINGERPRINT", "SHA256 fingerprint of the authenticated key", &options.fingerprint, true},
      {"--ca", "FINGERPRINT", "SHA256 fingerprint of the CA, for an SSH certificate", &options.ca_fingerprint},
  };
  if (std::optional<int> exit = pushgate::ParseFlags("pushgate-shell",
                                                     "pushgate forced command: serves git push and fetch for one "
                                                     "authenticated user",
                                                     flags, argc, argv)) {
    return *exit;
  }
  return pushgate::RunForcedCommand(options);
}
