#include "receive-hook/log_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "util/process.h"

namespace pushgate {

LogRelay::LogRelay(int out_fd, int session_fd, Duration keepalive)
    : out_fd_(out_fd), session_fd_(session_fd), keepalive_(keepalive) {
  int flags = ::fcntl(out_fd_, F_GETFL);
  if (flags >= 0) (void)::fcntl(out_fd_, F_SETFL, flags | O_NONBLOCK);
}

void LogRelay::Queue(std::string_view bytes) {
  if (bytes.empty()) return;
  pending_.append(bytes);
  at_line_start_ = bytes.back() == '\n';
  last_output_ = Clock::now();
}

Status LogRelay::Pump() {
  SigpipeBlocker no_sigpipe;
  while (!pending_.empty()) {
    ssize_t n = ::write(out_fd_, pending_.data(), pending_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Status::OK();
      return Status::IOError("the pusher is gone: " + Status::FromErrno(errno, "write").message());
    }
    pending_.erase(0, static_cast<size_t>(n));
  }
  return Status::OK();
}

void LogRelay::Record(std::string_view bytes) {
  if (bytes.empty()) return;
  transcript_.Append(bytes);
  transcript_at_line_start_ = bytes.back() == '\n';
}

Status LogRelay::Write(std::string_view bytes) {
  // The stored log keeps what a pusher who did not keep up missed.
  Record(bytes);
  PG_RETURN_IF_ERROR(Pump());
  if (pending_.size() + bytes.size() > kMaxPending) {
    dropped_bytes_ += bytes.size();
    unreported_drop_ += bytes.size();
    return Status::OK();
  }
  if (unreported_drop_ > 0) {
    uint64_t dropped = unreported_drop_;
    unreported_drop_ = 0;
    PG_RETURN_IF_ERROR(Announce("       [" + std::to_string(dropped) +
                           " bytes of build output dropped: the connection did not keep up]"));
  }
  Queue(bytes);
  relayed_bytes_ += bytes.size();
  return Pump();
}

Status LogRelay::Say(std::string_view line) {
  if (!transcript_at_line_start_) Record("\n");
  Record(line);
  Record("\n");
  return Announce(line);
}

Status LogRelay::Announce(std::string_view line) {
  std::string text = at_line_start_ ? "" : "\n";
  text += line;
  text += '\n';
  Queue(text);
  return Pump();
}

Status LogRelay::KeepAliveIfSilent() {
  auto now = Clock::now();
  // Output still waiting for the pusher says more than a keepalive would.
  if (now - last_output_ < keepalive_ || !pending_.empty()) return Pump();
  ++keepalives_;
  auto elapsed = std::chrono::duration_cast<Duration>(now - started_);
  return Announce("       ... still building (" + FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(elapsed)) +
             ")");
}

Status LogRelay::Drain(Duration limit) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    PG_RETURN_IF_ERROR(Pump());
    if (pending_.empty()) return Status::OK();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      dropped_bytes_ += pending_.size();
      pending_.clear();
      return Status::Timeout("the pusher did not read the last " + std::to_string(dropped_bytes_) + " bytes");
    }
    struct pollfd pfd = {out_fd_, POLLOUT, 0};
    (void)::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
  }
}

bool LogRelay::PusherGone() const {
  if (session_fd_ < 0) return false;
  struct pollfd pfd = {session_fd_, 0, 0};
  return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

}  // namespace pushgate
