#include "session/session_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "util/fd.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;
using Outcome = SessionRelayResult::Outcome;

constexpr size_t kBufferSize = 64 * 1024;

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// One direction of the session: bytes read from `from` wait in `buffer`
// until `to` takes them.
struct Stream {
  int from = -1;
  int to = -1;
  UniqueFd owned_from;  // the pipe end we own, if `from` is ours
  UniqueFd owned_to;    // the pipe end we own, if `to` is ours
  std::string buffer;
  bool eof = false;     // `from` reached its end
  bool broken = false;  // `to` cannot take more (EPIPE)

  bool done() const { return broken || (eof && buffer.empty()); }
  bool wants_read() const { return !eof && !broken && buffer.size() < kBufferSize; }
  bool wants_write() const { return !broken && !buffer.empty(); }

  // Moves what it can without blocking; returns the bytes moved.
  size_t Pump(bool readable, bool writable) {
    size_t moved = 0;
    if (readable && wants_read()) {
      char chunk[kBufferSize];
      ssize_t n = ::read(from, chunk, kBufferSize - buffer.size());
      if (n > 0) {
        buffer.append(chunk, static_cast<size_t>(n));
        moved += static_cast<size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof = true;
      }
    }
    if ((writable || !buffer.empty()) && wants_write()) {
      ssize_t n = ::write(to, buffer.data(), buffer.size());
      if (n > 0) {
        buffer.erase(0, static_cast<size_t>(n));
        moved += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        broken = true;
      }
    }
    return moved;
  }
};

struct pollfd Watch(int fd, bool wanted, short events) {
  return {wanted ? fd : -1, events, 0};
}

bool HungUp(const struct pollfd& pfd) { return (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0; }

}  // namespace

Result<SessionRelayResult> RunSessionRelay(SpawnSpec git, std::vector<UniqueFd> handed_to_git,
                                           const SessionFds& session, const SessionRelayOptions& options) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd in_read(in[0]), in_write(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd err_read(err[0]), err_write(err[1]);
  git.stdin_fd = in_read.get();
  git.stdout_fd = out_write.get();
  git.stderr_fd = err_write.get();
  git.new_process_group = true;
  // A shell killed outright takes git with it, as it took git before there
  // was a shell in the middle.
  git.killed_with_parent = true;
  for (const UniqueFd& fd : handed_to_git) git.keep_fds.push_back(fd.get());
  PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(git));
  handed_to_git.clear();
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();
  // A pidfd becomes readable when git exits. (The raw syscall: glibc 2.36's
  // <sys/pidfd.h> lacks C++ linkage guards.)
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  Stream streams[3];
  streams[0].from = session.in;
  streams[0].owned_to = std::move(in_write);
  streams[0].to = streams[0].owned_to.get();
  streams[1].owned_from = std::move(out_read);
  streams[1].from = streams[1].owned_from.get();
  streams[1].to = session.out;
  streams[2].owned_from = std::move(err_read);
  streams[2].from = streams[2].owned_from.get();
  streams[2].to = session.err;
  for (int fd : {session.in, session.out, session.err, streams[0].to, streams[1].from, streams[2].from}) {
    SetNonBlocking(fd);
  }

  SessionRelayResult result;
  bool exited = false;
  Clock::time_point last_activity = Clock::now(), flush_deadline;
  auto end_session = [&](Outcome outcome) {
    result.outcome = outcome;
    // git-receive-pack dies at once, but its hook handles SIGTERM (it stops
    // the build and removes its archive) and gets `kill_grace` to.
    result.exit = exited ? result.exit : StopProcessGroup(pid, options.kill_grace);
    return result;
  };
  for (;;) {
    // Once the client has sent everything, git's stdin is closed too.
    if (streams[0].done() && streams[0].owned_to.valid()) streams[0].owned_to.Reset();
    if (exited && ((streams[1].done() && streams[2].done()) || Clock::now() >= flush_deadline)) return result;
    if (options.stop != nullptr && options.stop->load()) return end_session(Outcome::kStopped);
    auto idle_left = options.idle_timeout - (Clock::now() - last_activity);
    if (!exited && idle_left <= Clock::duration::zero()) return end_session(Outcome::kIdle);

    // A descriptor the relay has nothing to do with is left out (-1), not
    // polled for no events: poll reports a hang-up whatever the events, and
    // the client's input stays hung up from the end of its pack until the
    // report, so the relay would wake at once, again and again, for the
    // whole hook. The client's output is the exception: its hang-up is how
    // a client that went away is noticed while nothing is being sent.
    struct pollfd pfds[7] = {
        Watch(session.in, streams[0].wants_read(), POLLIN),
        Watch(streams[0].to, streams[0].owned_to.valid() && streams[0].wants_write(), POLLOUT),
        Watch(streams[1].from, streams[1].wants_read(), POLLIN),
        {session.out, static_cast<short>(streams[1].wants_write() ? POLLOUT : 0), 0},
        Watch(streams[2].from, streams[2].wants_read(), POLLIN),
        Watch(session.err, streams[2].wants_write(), POLLOUT),
        Watch(pidfd.get(), !exited, POLLIN),
    };
    int wait_ms = static_cast<int>(std::min<long long>(
        1000, std::chrono::duration_cast<std::chrono::milliseconds>(idle_left).count() + 1));
    if (exited) wait_ms = 100;
    if (::poll(pfds, 7, std::max(wait_ms, 1)) < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
    // The client's side of the channel closed: nobody is left to push.
    if (HungUp(pfds[3]) && !(pfds[3].revents & POLLOUT)) {
      if (!exited) return end_session(Outcome::kClientGone);
      return result;
    }
    size_t moved = 0;
    moved += streams[0].Pump(pfds[0].revents != 0, pfds[1].revents != 0);
    moved += streams[1].Pump(pfds[2].revents != 0, pfds[3].revents != 0);
    moved += streams[2].Pump(pfds[4].revents != 0, pfds[5].revents != 0);
    if (moved > 0) last_activity = Clock::now();
    if (streams[1].broken || streams[2].broken) {
      if (!exited) return end_session(Outcome::kClientGone);
      return result;
    }
    if (!exited && (pfds[6].revents != 0 || !pidfd.valid())) {
      Result<std::optional<ExitStatus>> ended = WaitForExitUntil(pid, Duration(0));
      if (ended.ok() && ended->has_value()) {
        exited = true;
        result.exit = **ended;
        flush_deadline = Clock::now() + options.final_flush;
      }
    }
  }
}

}  // namespace pushgate
