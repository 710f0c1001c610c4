// Per-user admission for pushgate-sshd's listener: sessions open at once and
// sessions started in the last minute, per key owner (sshd.max_sessions_per_
// user, sshd.max_sessions_per_minute). The listener is one process and sees
// every connection, so the counts are exact; no file or lock is involved.
#ifndef PUSHGATE_SSH_SERVER_USER_LIMITS_H_
#define PUSHGATE_SSH_SERVER_USER_LIMITS_H_

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace pushgate {

class UserLimits {
 public:
  using Clock = std::chrono::steady_clock;

  // 0 turns a limit off.
  UserLimits(int max_open, int max_per_minute) : max_open_(max_open), max_per_minute_(max_per_minute) {}

  // Admits one more session of `user`, who has `open` sessions now, and
  // counts it; or says, in a line for the client, which limit it meets and
  // when to try again.
  std::optional<std::string> Admit(const std::string& user, int open, Clock::time_point now);

  // Users with a start in the last minute (memory is bounded by them).
  size_t TrackedUsers() const { return starts_.size(); }

 private:
  void Forget(Clock::time_point now);

  int max_open_;
  int max_per_minute_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> starts_;
  Clock::time_point last_sweep_{};
};

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_USER_LIMITS_H_
