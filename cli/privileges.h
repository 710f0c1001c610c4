// The admin CLI runs as root or as git_user, and whatever it creates under
// data_dir must belong to git_user (sshd runs the keys helper and the forced
// shell as that user). Run as root, it switches its effective user and groups
// to git_user before touching data_dir, keeping root only as the saved id so
// a command can return to it for a step outside data_dir (the final rename
// of a backup file in root's directory).
#ifndef PUSHGATE_CLI_PRIVILEGES_H_
#define PUSHGATE_CLI_PRIVILEGES_H_

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

// Creates data_dir owned by git_user if missing, then makes git_user the
// effective user. Running as git_user already is fine; any other user is
// refused with a message saying how to run the command.
Status EnterGitUser(const Config& config);

// Returns to root if EnterGitUser switched away from it; otherwise a no-op.
Status LeaveGitUser();

}  // namespace pushgate

#endif  // PUSHGATE_CLI_PRIVILEGES_H_
