// One client connection of pushgate-sshd, served in its own process (the
// listener forks one per accepted socket, server.h):
//
//   PROXY header      sshd.proxy_protocol: the real client behind a balancer
//   key exchange      modern algorithms only, strict kex (libssh 0.10.6+)
//   authentication    publickey for git_user, decided in process by
//                     FindAuthorizedKey over the same cache as pushgate-keys;
//                     the identity is the key whose signature verified
//   admission         the listener's per-user limits
//   one session       exec (or shell, which gets the usual refusal); pty,
//                     subsystems, forwarding and all environment but a valid
//                     GIT_PROTOCOL are refused
//   RunSession        in a child process ("pg-session" in ps) whose stdio
//                     are pipes to the channel, as pushgate-shell runs it
//                     on sshd's
//   bridge            channel <-> pipes, then git's exit status
//
// sshd.login_grace_time bounds everything before the session (an alarm that
// ends the process); push.idle_timeout bounds a stalled client afterwards.
#ifndef PUSHGATE_SSH_SERVER_CONNECTION_H_
#define PUSHGATE_SSH_SERVER_CONNECTION_H_

#include <chrono>
#include <string>

#include "config/config.h"
#include "ssh-server/libssh_handles.h"
#include "util/fd.h"

namespace pushgate {

struct ConnectionContext {
  const Config* config = nullptr;
  ssh_bind bind = nullptr;   // host keys and algorithms, set up by the listener
  std::string libexec_dir;   // pushgate's programs (pushgate-sync, the hooks)
  int control_fd = -1;       // the listener's end of admission (server.h)
  std::chrono::steady_clock::time_point accepted_at;
};

// The listener's admission protocol over `control_fd` (SOCK_SEQPACKET): the
// connection sends kAdmitRequest + user once authenticated; the listener
// answers kAdmitted, or a line for the client saying which limit it met.
inline constexpr std::string_view kAdmitRequest = "auth ";
inline constexpr std::string_view kAdmitted = "ok";

// Serves the client on `socket` until it leaves. Returns this process's exit
// status (0 whatever the client did; the listener counts from signals).
int ServeConnection(const ConnectionContext& context, UniqueFd socket);

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_CONNECTION_H_
