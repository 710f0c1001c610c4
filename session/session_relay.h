// pushgate-shell's side of a push: git-receive-pack runs as a child with its
// stdin, stdout and stderr on pipes, and the shell copies between them and
// the ssh session instead of becoming git.
//
// Being in the middle is what lets pushgate bound a session under any sshd:
// a session that moves no byte either way for `idle_timeout` (a client that
// opened receive-pack and went quiet, or stopped reading) is ended, git's
// whole process group with it, so the app lock it holds is freed. A client
// that disconnects ends the session at once. Builds cannot look idle: the
// hook sends keepalive lines and git-receive-pack its own keepalives.
#ifndef PUSHGATE_SESSION_SESSION_RELAY_H_
#define PUSHGATE_SESSION_SESSION_RELAY_H_

#include <atomic>
#include <vector>

#include "util/duration.h"
#include "util/fd.h"
#include "util/process.h"
#include "util/status.h"

namespace pushgate {

struct SessionFds {
  int in = 0;   // from the client
  int out = 1;  // to the client
  int err = 2;  // to the client (stderr)
};

struct SessionRelayOptions {
  Duration idle_timeout = std::chrono::minutes(10);
  // After SIGTERM, how long git's process group has to end before SIGKILL.
  Duration kill_grace = std::chrono::seconds(5);
  // Once git has exited, how long the client has to take the last bytes.
  Duration final_flush = std::chrono::seconds(10);
  // Set asynchronously (a signal handler): end the session as if idle.
  const std::atomic<bool>* stop = nullptr;
};

struct SessionRelayResult {
  enum class Outcome {
    kExited,      // git ended on its own; `exit` says how
    kIdle,        // nothing moved for idle_timeout; git was stopped
    kClientGone,  // the client disconnected; git was stopped
    kStopped,     // `stop` was set; git was stopped
  } outcome = Outcome::kExited;
  ExitStatus exit;
};

// Spawns `git` (in a process group of its own, stdio replaced by pipes) and
// relays until it ends or the session does. `handed_to_git` are inherited by
// git under their numbers and closed here once it runs (the app lock: it is
// then held by git's processes alone, and freed the moment they end).
// `session`'s descriptors are switched to non-blocking mode.
Result<SessionRelayResult> RunSessionRelay(SpawnSpec git, std::vector<UniqueFd> handed_to_git,
                                           const SessionFds& session, const SessionRelayOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_SESSION_RELAY_H_
