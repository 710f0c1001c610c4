// pushgate-sshd's listener: the gateway's own SSH server (connection.h
// serves each client). It runs as git_user only: no root, no privilege
// separation to set up, no re-exec per connection.
//
// The listener accepts on sshd.listen (or the socket systemd passes), forks
// one process per connection and keeps the books: connections open and not
// yet authenticated (sshd.max_connections, sshd.max_unauthenticated: a
// connection past either is closed at once and counted), sessions per user
// (UserLimits), and the gauges and counters in data_dir/metrics.
//
// SIGTERM or SIGINT drains: the listening socket is closed (new connections
// are refused), unauthenticated connections end, sessions in flight get
// sshd.grace_period to finish; then each is told to stop (a push ends as an
// idle one does: its lock freed, its ref untouched unless git finished) and
// the listener exits.
#ifndef PUSHGATE_SSH_SERVER_SERVER_H_
#define PUSHGATE_SSH_SERVER_SERVER_H_

#include <string>

namespace pushgate {

struct SshServerOptions {
  std::string config_path;
  std::string log_destination;  // replaces [log] destination when set
  std::string listen;           // replaces sshd.listen when set ("127.0.0.1:2222")
};

// The whole program. Exit status: 0 after a drain, 1 if it could not start
// (the reason on stderr and in the log), 2 for root.
int RunSshServer(const SshServerOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_SERVER_H_
