#include "receive-hook/log_relay.h"

#include <poll.h>

#include <string>

#include "util/fs.h"

namespace pushgate {

LogRelay::LogRelay(int out_fd, int session_fd, Duration keepalive)
    : out_fd_(out_fd), session_fd_(session_fd), keepalive_(keepalive) {}

Status LogRelay::Emit(std::string_view bytes) {
  if (bytes.empty()) return Status::OK();
  Status s = WriteAll(out_fd_, bytes);
  if (!s.ok()) return Status::IOError("the pusher is gone: " + s.message());
  last_write_ = Clock::now();
  at_line_start_ = bytes.back() == '\n';
  return Status::OK();
}

Status LogRelay::Write(std::string_view bytes) {
  PG_RETURN_IF_ERROR(Emit(bytes));
  relayed_bytes_ += bytes.size();
  return Status::OK();
}

Status LogRelay::Say(std::string_view line) {
  std::string text = at_line_start_ ? "" : "\n";
  text += line;
  text += '\n';
  return Emit(text);
}

Status LogRelay::KeepAliveIfSilent() {
  auto now = Clock::now();
  if (now - last_write_ < keepalive_) return Status::OK();
  ++keepalives_;
  auto elapsed = std::chrono::duration_cast<Duration>(now - started_);
  return Say("       ... still building (" + FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(elapsed)) +
             ")");
}

bool LogRelay::PusherGone() const {
  if (session_fd_ < 0) return false;
  struct pollfd pfd = {session_fd_, 0, 0};
  return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

}  // namespace pushgate
