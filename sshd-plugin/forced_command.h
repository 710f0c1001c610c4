// pushgate-shell's work: the session steps (session/session.h) on the stdio
// sshd gives a forced command, with the client's request taken from sshd's
// environment (SSH_ORIGINAL_COMMAND, GIT_PROTOCOL, SSH_CONNECTION).
#ifndef PUSHGATE_SSHD_PLUGIN_FORCED_COMMAND_H_
#define PUSHGATE_SSHD_PLUGIN_FORCED_COMMAND_H_

#include <string>

namespace pushgate {

struct ForcedCommandOptions {
  std::string config_path;
  std::string user;         // --user, from the authorized_keys line
  std::string fingerprint;  // --key
  std::string ca_fingerprint;  // --ca: set on a certificate's principals line
};

// Returns the exit status for sshd: 1 for a refused request (with a
// one-line message on stderr, which the client shows), otherwise git's.
int RunForcedCommand(const ForcedCommandOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_FORCED_COMMAND_H_
