// The one line pushgate-keys (or, for a certificate, pushgate-principals)
// prints for sshd:
//
//   command="SHELL --config CONFIG --user USER --key FINGERPRINT",restrict TYPE BLOB
//
// sshd hands the command to the git user's login shell (/bin/sh -c), so every
// part must be safe both inside the double-quoted option and as a shell word.
// Each part is checked against an exact allowlist (util/names.h) and nothing
// is ever escaped: anything that would need escaping is refused. `restrict`
// turns off port, agent and X11 forwarding, pty allocation and ~/.ssh/rc.
#ifndef PUSHGATE_SSHD_PLUGIN_AUTHORIZED_KEYS_LINE_H_
#define PUSHGATE_SSHD_PLUGIN_AUTHORIZED_KEYS_LINE_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

struct AuthorizedKeysLineParts {
  std::string_view shell_path;   // absolute path of pushgate-shell
  std::string_view config_path;  // absolute path of the config file
  std::string_view user;
  std::string_view fingerprint;  // SHA256:...
  std::string_view key_type;
  std::string_view key_blob;
};

// Returns the line including its trailing '\n', or InvalidArgument naming the
// part that is not acceptable.
Result<std::string> FormatAuthorizedKeysLine(const AuthorizedKeysLineParts& parts);

// The AuthorizedPrincipalsCommand's line for an SSH user certificate, with
// the same forced command and `restrict`, then the principal that matched:
//
//   command="SHELL --config CONFIG --user USER --key FINGERPRINT --ca CA",restrict PRINCIPAL
struct AuthorizedPrincipalsLineParts {
  std::string_view shell_path;
  std::string_view config_path;
  std::string_view user;
  std::string_view fingerprint;     // of the certified key (sshd's %f)
  std::string_view ca_fingerprint;  // of the CA that signed it (sshd's %F)
  std::string_view principal;
};
Result<std::string> FormatAuthorizedPrincipalsLine(const AuthorizedPrincipalsLineParts& parts);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_AUTHORIZED_KEYS_LINE_H_
