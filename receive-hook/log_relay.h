// The pusher's side of a build: relays the build log to the pusher's ssh
// session as it arrives, adds pushgate's own lines, and keeps a silent
// session alive.
//
// Both build paths (a local build command, the controller's build service)
// relay through one LogRelay, so they behave the same: bytes are passed on
// unchanged and in order, pushgate's lines always start on a line of their
// own, and after `keepalive` without output a keepalive line goes out so
// that ssh and load-balancer idle timeouts do not cut a long, quiet build.
#ifndef PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_
#define PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_

#include <chrono>
#include <cstdint>
#include <string_view>

#include "util/duration.h"
#include "util/status.h"

namespace pushgate {

class LogRelay {
 public:
  // `out_fd` is where the pusher reads (the hook's stderr); `session_fd` is
  // the pusher's ssh channel if known (-1 otherwise), watched for hangup.
  LogRelay(int out_fd, int session_fd, Duration keepalive);

  // Relays build output. IOError when the pusher is gone.
  Status Write(std::string_view bytes);
  // Writes one of pushgate's lines (without the newline), on a fresh line.
  Status Say(std::string_view line);
  // Writes a keepalive line if nothing was written for `keepalive`.
  Status KeepAliveIfSilent();
  // True once the pusher's session has closed (only known with a session_fd).
  bool PusherGone() const;

  int session_fd() const { return session_fd_; }
  uint64_t relayed_bytes() const { return relayed_bytes_; }
  int keepalives() const { return keepalives_; }

 private:
  using Clock = std::chrono::steady_clock;
  Status Emit(std::string_view bytes);

  int out_fd_;
  int session_fd_;
  Duration keepalive_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_write_ = started_;
  bool at_line_start_ = true;
  uint64_t relayed_bytes_ = 0;
  int keepalives_ = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_
