// What a valid configuration still needs from the machine it runs on: the
// git user's account, the controller's token and CA files, the programs it
// names. `pushgate config check` runs these, so an operator hears about a
// missing account or an unreadable token before sshd's helper trips on it
// and every pusher gets "Permission denied (publickey)".
#ifndef PUSHGATE_CONFIG_HOST_CHECK_H_
#define PUSHGATE_CONFIG_HOST_CHECK_H_

#include <string>
#include <vector>

#include "config/config.h"

namespace pushgate {

// Every problem found, one message each (empty: none). Files are checked as
// the calling user; run it as root or as git_user.
std::vector<std::string> CheckHost(const Config& config);

}  // namespace pushgate

#endif  // PUSHGATE_CONFIG_HOST_CHECK_H_
