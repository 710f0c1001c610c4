#include "ssh-server/user_limits.h"

#include <algorithm>

namespace pushgate {
namespace {

constexpr auto kWindow = std::chrono::minutes(1);

}  // namespace

void UserLimits::Forget(Clock::time_point now) {
  for (auto it = starts_.begin(); it != starts_.end();) {
    std::deque<Clock::time_point>& starts = it->second;
    while (!starts.empty() && now - starts.front() >= kWindow) starts.pop_front();
    it = starts.empty() ? starts_.erase(it) : std::next(it);
  }
  last_sweep_ = now;
}

std::optional<std::string> UserLimits::Admit(const std::string& user, int open, Clock::time_point now) {
  if (now - last_sweep_ >= kWindow) Forget(now);
  if (max_open_ > 0 && open >= max_open_) {
    return "pushgate: " + user + " already has " + std::to_string(open) +
           " sessions open, the most allowed at once (sshd.max_sessions_per_user); try again when one ends";
  }
  if (max_per_minute_ == 0) return std::nullopt;
  std::deque<Clock::time_point>& starts = starts_[user];
  while (!starts.empty() && now - starts.front() >= kWindow) starts.pop_front();
  if (starts.size() >= static_cast<size_t>(max_per_minute_)) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(kWindow - (now - starts.front()));
    return "pushgate: " + user + " started " + std::to_string(starts.size()) +
           " sessions in the last minute, the most allowed (sshd.max_sessions_per_minute); try again in " +
           std::to_string(std::max<int64_t>(1, wait.count())) + "s";
  }
  starts.push_back(now);
  return std::nullopt;
}

}  // namespace pushgate
