// The admin CLI runs as root or as git_user, and whatever it creates under
// data_dir must belong to git_user (sshd runs the keys helper and the forced
// shell as that user). Run as root, a command that writes data_dir first
// drops to git_user for good: real, effective and saved ids, and groups. No
// way back to root remains while it parses input files.
#ifndef PUSHGATE_CLI_PRIVILEGES_H_
#define PUSHGATE_CLI_PRIVILEGES_H_

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

// Creates data_dir owned by git_user if missing, then becomes git_user.
// Running as git_user already is fine; any other user is refused with a
// message saying how to run the command.
Status BecomeGitUser(const Config& config);

}  // namespace pushgate

#endif  // PUSHGATE_CLI_PRIVILEGES_H_
