// Spawning child processes the way OpenSSH does: an absolute path, an argv
// vector (never a shell string), exactly the environment given, stdin from
// /dev/null unless a descriptor is passed, and every other descriptor closed.
#ifndef PUSHGATE_UTIL_PROCESS_H_
#define PUSHGATE_UTIL_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/duration.h"
#include "util/status.h"

namespace pushgate {

struct SpawnSpec {
  std::string path;               // absolute path of the executable
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value", the child's whole environment
  int stdin_fd = -1;              // -1: /dev/null
  int stdout_fd = -1;             // -1: /dev/null
  int stderr_fd = -1;             // -1: /dev/null
  bool new_process_group = false; // so the whole tree can be signalled at once
  std::string cwd;                // empty: inherit
  // The kernel kills the child (SIGKILL) when the spawning thread dies, even
  // by SIGKILL, so it cannot run on unsupervised (PR_SET_PDEATHSIG). Its own
  // children are not covered.
  bool killed_with_parent = false;
  // Descriptors (above 2) the child inherits under the same numbers: the
  // forced shell hands git the app lock and the session channel this way.
  std::vector<int> keep_fds = {};
};

struct ExitStatus {
  bool exited = false;  // exited normally; else killed by `signal`
  int code = 0;
  int signal = 0;

  bool success() const { return exited && code == 0; }
  // "exit status 3", "killed by signal 9 (Killed)".
  std::string Describe() const;
};

// Decodes a waitpid(2) status.
ExitStatus ExitStatusFromWait(int wstatus);

Result<pid_t> Spawn(const SpawnSpec& spec);

// Replaces this process with `spec.path` (stdio descriptors in the spec are
// ignored: the current stdio is kept). Every descriptor above 2 is closed
// except those in `keep_fds`. Returns only on failure.
Status ExecReplacing(const SpawnSpec& spec, std::vector<int> keep_fds);

// Waits for `pid` to end (retrying EINTR).
Result<ExitStatus> WaitForExit(pid_t pid);

// Waits at most `timeout` for `pid` to end; nullopt if it is still running
// (it is left running, unreaped).
Result<std::optional<ExitStatus>> WaitForExitUntil(pid_t pid, Duration timeout);

// True while a member of the process group `pgid` runs. Zombies do not
// count: orphans wait for init to reap them, and some container inits reap
// late (seconds), which would hold every stop for its whole grace.
bool ProcessGroupRuns(pid_t pgid);

// Ends the process group `leader` leads (spawned with new_process_group):
// SIGTERM to all of it, then SIGKILL to whatever is left after `grace`, or
// sooner once the whole group has ended. Reaps the leader unless `reaped`
// already holds its exit status; returns that status.
ExitStatus StopProcessGroup(pid_t leader, Duration grace, std::optional<ExitStatus> reaped = std::nullopt);

struct CapturedRun {
  ExitStatus status;
  std::string output;  // stdout and stderr interleaved as written
};

// Runs to completion, capturing stdout and stderr together. `stdin_data` is
// written to the child's stdin. For short helper commands (git, ssh-keygen)
// whose output is small; not for build logs.
Result<CapturedRun> RunAndCapture(SpawnSpec spec, const std::string& stdin_data = "");

// Runs `work` in a forked child that nobody waits for: the child leaves the
// session and process group (setsid), so stopping the caller's group spares
// it; its stdio are /dev/null and every other descriptor is closed, so no
// pipe or lock of the caller's stays open while it runs. For clean-up that
// must not hold up the caller's own reader (git waits for a hook's output to
// end). Only for single-threaded callers: the child is a copy of the one
// forking thread. The child exits 0 when `work` returns.
Status RunDetached(const std::function<void()>& work);

// Blocks SIGPIPE for the calling thread while it lives, so a write to a pipe
// whose reader has gone fails with EPIPE instead of killing the process; a
// SIGPIPE raised meanwhile is consumed before the old mask comes back.
class SigpipeBlocker {
 public:
  SigpipeBlocker();
  ~SigpipeBlocker();
  SigpipeBlocker(const SigpipeBlocker&) = delete;
  SigpipeBlocker& operator=(const SigpipeBlocker&) = delete;

 private:
  sigset_t old_mask_;
};

// Looks `name` up in the standard system directories (/usr/local/bin,
// /usr/bin, /bin, /usr/sbin, /sbin); never in $PATH, which a client could set.
Result<std::string> FindSystemProgram(const std::string& name);

// Sets an environment entry in `env` ("NAME=value"), replacing an existing one.
void SetEnv(std::vector<std::string>& env, const std::string& name, const std::string& value);

// This process's peak resident memory since its last exec (VmHWM), in KiB;
// 0 if unknown. Logged by long-running steps so memory use is visible.
long PeakRssKb();

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_PROCESS_H_
