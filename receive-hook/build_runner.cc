#include "receive-hook/build_runner.h"

#include <fcntl.h>
#include <poll.h>
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

// One running build: its process group, the pipe of its output, and how
// far it got. Watch() relays until the build ends or must be stopped.
class BuildWatch {
 public:
  BuildWatch(const BuildRequest& request, pid_t pid, UniqueFd output)
      : request_(request), relay_(*request.relay), pid_(pid), output_(std::move(output)) {}

  // How the build ended: nullopt if it ended by itself (output closed, or
  // the drain time after its exit ran out), else why it was stopped.
  using Ended = std::optional<BuildResult::Outcome>;
  Result<Ended> Watch() {
    for (;;) {
      if (Ended stop = StopReason()) return stop;
      if (ReapedAndDrained()) return Ended();
      PG_ASSIGN_OR_RETURN(Step step, RelayOnce());
      if (step == Step::kPusherGone) return Ended(BuildResult::Outcome::kOutputLost);
      if (step == Step::kOutputClosed) {
        if (!reaped_) {
          // Everyone closed the pipe; only the exit status remains to collect.
          PG_ASSIGN_OR_RETURN(exit_, WaitForExit(pid_));
          reaped_ = true;
        }
        return Ended();
      }
    }
  }

  // Stops whatever is left of the group (a daemon the build started) and
  // returns the build's exit status.
  ExitStatus Stop() {
    return StopProcessGroup(pid_, request_.kill_grace, reaped_ ? std::optional<ExitStatus>(exit_) : std::nullopt);
  }

 private:
  enum class Step { kGoOn, kOutputClosed, kPusherGone };

  std::optional<BuildResult::Outcome> StopReason() const {
    if (request_.cancel != nullptr && request_.cancel->load()) return BuildResult::Outcome::kCancelled;
    if (Clock::now() - start_ >= request_.timeout) return BuildResult::Outcome::kTimedOut;
    return std::nullopt;
  }

  // After the leader exits, what is still in the pipe is relayed for
  // kDrainAfterExit; leftover processes that hold it open are stopped then.
  bool ReapedAndDrained() {
    if (reaped_) return Clock::now() - exited_at_ >= kDrainAfterExit;
    Result<std::optional<ExitStatus>> exited = WaitForExitUntil(pid_, Duration(0));
    if (exited.ok() && exited->has_value()) {
      reaped_ = true;
      exited_at_ = Clock::now();
      exit_ = **exited;
    }
    return false;
  }

  // One wait for the build's output, the pusher's side of the relay when
  // output waits for them, and the session channel (hangup only). The
  // pusher's side is left out (-1) when nothing waits: poll reports its
  // hang-up whatever the events, and this loop would wake at once, again
  // and again, until a write noticed.
  Result<Step> RelayOnce() {
    struct pollfd pfds[3] = {{output_.get(), POLLIN, 0},
                             {relay_.has_pending() ? relay_.out_fd() : -1, POLLOUT, 0},
                             {relay_.session_fd(), 0, 0}};
    int ready = ::poll(pfds, relay_.session_fd() >= 0 ? 3 : 2, kPollInterval);
    if (ready < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
    if (relay_.session_fd() >= 0 && (pfds[2].revents & (POLLERR | POLLHUP | POLLNVAL))) return Step::kPusherGone;
    if (!relay_.Pump().ok()) return Step::kPusherGone;
    if (ready <= 0 || pfds[0].revents == 0) {
      return relay_.KeepAliveIfSilent().ok() ? Step::kGoOn : Step::kPusherGone;
    }
    char buf[16384];
    ssize_t n = ::read(output_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return Step::kGoOn;
      return Status::FromErrno(errno, "read build output");
    }
    if (n == 0) return Step::kOutputClosed;
    return relay_.Write(std::string_view(buf, static_cast<size_t>(n))).ok() ? Step::kGoOn : Step::kPusherGone;
  }

  const BuildRequest& request_;
  LogRelay& relay_;
  pid_t pid_;
  UniqueFd output_;
  Clock::time_point start_ = Clock::now();
  bool reaped_ = false;
  Clock::time_point exited_at_;
  ExitStatus exit_;
};

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

  BuildWatch watch(request, pid, std::move(read_end));
  Result<std::optional<BuildResult::Outcome>> stopped = watch.Watch();
  BuildResult result;
  // Whatever ended the watch, nothing of the build outlives it.
  result.exit = watch.Stop();
  if (!stopped.ok()) return stopped.status();
  if (stopped->has_value()) {
    result.outcome = **stopped;
  } else {
    result.outcome = result.exit.success() ? BuildResult::Outcome::kSucceeded : BuildResult::Outcome::kFailed;
  }
  return result;
}

}  // namespace pushgate
