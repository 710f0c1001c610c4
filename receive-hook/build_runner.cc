#include "receive-hook/build_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "util/fd.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;

// After the build's main process exits, output still buffered in the pipe is
// relayed for at most this long before leftover processes are stopped.
constexpr Duration kDrainAfterExit = std::chrono::seconds(1);
constexpr int kPollInterval = 100;  // ms: reaction time to cancel and timeout

}  // namespace

Result<BuildResult> RunBuild(const BuildRequest& request) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  SpawnSpec spec = request.command;
  spec.stdin_fd = -1;
  spec.stdout_fd = write_end.get();
  spec.stderr_fd = write_end.get();
  spec.new_process_group = true;
  // A hook killed outright cannot stop its build; the kernel does.
  spec.killed_with_parent = true;
  PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
  write_end.Reset();

  BuildResult result;
  bool stopped_early = true;  // cleared when the build ends on its own
  auto start = Clock::now();
  bool leader_reaped = false;
  Clock::time_point exited_at;
  char buf[16384];
  for (;;) {
    if (request.cancel != nullptr && request.cancel->load()) {
      result.outcome = BuildResult::Outcome::kCancelled;
      break;
    }
    if (Clock::now() - start >= request.timeout) {
      result.outcome = BuildResult::Outcome::kTimedOut;
      break;
    }
    if (!leader_reaped) {
      int wstatus = 0;
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
        leader_reaped = true;
        exited_at = Clock::now();
        result.exit = ExitStatusFromWait(wstatus);
      }
    } else if (Clock::now() - exited_at >= kDrainAfterExit) {
      stopped_early = false;
      break;  // leftover processes hold the pipe open; stop them below
    }
    LogRelay& relay = *request.relay;
    // The build's output, the pusher's side of the relay when output waits
    // for them, and the session channel (hangup only).
    struct pollfd pfds[3] = {{read_end.get(), POLLIN, 0},
                             {relay.out_fd(), static_cast<short>(relay.has_pending() ? POLLOUT : 0), 0},
                             {relay.session_fd(), 0, 0}};
    int ready = ::poll(pfds, relay.session_fd() >= 0 ? 3 : 2, kPollInterval);
    if (ready < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
    if (relay.session_fd() >= 0 && (pfds[2].revents & (POLLERR | POLLHUP | POLLNVAL))) {
      result.outcome = BuildResult::Outcome::kOutputLost;
      break;
    }
    if (!relay.Pump().ok()) {
      result.outcome = BuildResult::Outcome::kOutputLost;
      break;
    }
    if (ready <= 0 || pfds[0].revents == 0) {
      if (!relay.KeepAliveIfSilent().ok()) {
        result.outcome = BuildResult::Outcome::kOutputLost;
        break;
      }
      continue;
    }
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::FromErrno(errno, "read build output");
    }
    if (n == 0) {
      stopped_early = false;
      if (leader_reaped) break;
      // Everyone closed the pipe; only the exit status remains to collect.
      int wstatus = 0;
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      leader_reaped = true;
      result.exit = ExitStatusFromWait(wstatus);
      break;
    }
    if (!relay.Write(std::string_view(buf, static_cast<size_t>(n))).ok()) {
      result.outcome = BuildResult::Outcome::kOutputLost;
      break;
    }
  }
  // Leftovers of the build (a daemon it started) end with it.
  result.exit = StopProcessGroup(pid, request.kill_grace,
                                 leader_reaped ? std::optional<ExitStatus>(result.exit) : std::nullopt);
  if (!stopped_early) {
    result.outcome = result.exit.success() ? BuildResult::Outcome::kSucceeded : BuildResult::Outcome::kFailed;
  }
  return result;
}

}  // namespace pushgate
