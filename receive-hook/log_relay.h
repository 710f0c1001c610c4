// The pusher's side of a build: relays the build log to the pusher's ssh
// session as it arrives, adds pushgate's own lines, and keeps a silent
// session alive.
//
// Both build paths (a local build command, the controller's build service)
// relay through one LogRelay, so they behave the same: bytes are passed on
// unchanged and in order, pushgate's lines always start on a line of their
// own, and after `keepalive` without output a keepalive line goes out so
// that ssh and load-balancer idle timeouts do not cut a long, quiet build.
//
// Writing never blocks: a pusher who stops reading must not stop the hook's
// clock (build.timeout) or its disconnect check. Output waits in a bounded
// buffer; build output that does not fit is dropped and the pusher is told
// how much, while pushgate's own lines are always kept.
#ifndef PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_
#define PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "releases/releases.h"
#include "util/duration.h"
#include "util/status.h"

namespace pushgate {

class LogRelay {
 public:
  // Build output held back beyond this, while the pusher does not read, is dropped.
  static constexpr size_t kMaxPending = 256 * 1024;

  // `out_fd` is where the pusher reads (the hook's stderr); it is switched to
  // non-blocking mode. `session_fd` is the pusher's ssh channel if known (-1
  // otherwise), watched for hangup.
  LogRelay(int out_fd, int session_fd, Duration keepalive);

  // Relays build output. IOError when the pusher is gone.
  Status Write(std::string_view bytes);
  // Writes one of pushgate's lines (without the newline), on a fresh line.
  Status Say(std::string_view line);
  // Writes a keepalive line if nothing was written for `keepalive`.
  Status KeepAliveIfSilent();
  // Writes what it can of the held-back output without waiting. IOError when
  // the pusher is gone.
  Status Pump();
  // Waits at most `limit` for everything held back to be written; Timeout if
  // the pusher did not take it in time (the rest is then dropped).
  Status Drain(Duration limit);
  // True once the pusher's session has closed (only known with a session_fd).
  bool PusherGone() const;

  int out_fd() const { return out_fd_; }
  int session_fd() const { return session_fd_; }
  // True while output waits for the pusher to read: poll out_fd for POLLOUT.
  bool has_pending() const { return !pending_.empty(); }
  // The log to keep (releases/releases.h): the build's output and
  // pushgate's lines, including output the pusher missed, without the
  // keepalives.
  std::string Transcript() const { return transcript_.Text(); }
  uint64_t relayed_bytes() const { return relayed_bytes_; }
  uint64_t dropped_bytes() const { return dropped_bytes_; }
  int keepalives() const { return keepalives_; }

 private:
  using Clock = std::chrono::steady_clock;
  void Queue(std::string_view bytes);
  void Record(std::string_view bytes);
  // Say without recording: lines about the relay itself.
  Status Announce(std::string_view line);

  int out_fd_;
  int session_fd_;
  Duration keepalive_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_output_ = started_;
  std::string pending_;
  bool at_line_start_ = true;     // of what was queued so far
  uint64_t relayed_bytes_ = 0;    // build output accepted (queued or written)
  uint64_t dropped_bytes_ = 0;    // build output dropped, in all
  uint64_t unreported_drop_ = 0;  // dropped since the pusher was last told
  int keepalives_ = 0;
  BuildLogTail transcript_;
  bool transcript_at_line_start_ = true;
};

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_LOG_RELAY_H_
