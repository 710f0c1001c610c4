#include "ssh-server/user_limits.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

using std::chrono::seconds;
const UserLimits::Clock::time_point kStart = UserLimits::Clock::time_point() + std::chrono::hours(1);

TEST(UserLimitsTest, OpenSessionsAreCappedPerUser) {
  UserLimits limits(2, 0);
  EXPECT_FALSE(limits.Admit("alice", 0, kStart));
  EXPECT_FALSE(limits.Admit("alice", 1, kStart));
  std::optional<std::string> refused = limits.Admit("alice", 2, kStart);
  ASSERT_TRUE(refused);
  const std::string expected =
      "pushgate: alice already has 2 sessions open, the most allowed at once (sshd.max_sessions_per_user); try again when one ends";
  EXPECT_EQ(*refused, expected);
  EXPECT_FALSE(limits.Admit("bob", 0, kStart));  // another user is not affected
}

TEST(UserLimitsTest, StartsPerMinuteSaySecondsToWait) {
  UserLimits limits(0, 3);
  EXPECT_FALSE(limits.Admit("alice", 0, kStart));
  EXPECT_FALSE(limits.Admit("alice", 0, kStart + seconds(10)));
  EXPECT_FALSE(limits.Admit("alice", 0, kStart + seconds(20)));
  std::optional<std::string> refused = limits.Admit("alice", 0, kStart + seconds(45));
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("try again in 15s"), std::string::npos) << *refused;
  EXPECT_FALSE(limits.Admit("bob", 0, kStart + seconds(45)));
  // A refused start is not counted: once the first start is a minute old,
  // one more is allowed.
  EXPECT_FALSE(limits.Admit("alice", 0, kStart + seconds(60)));
  EXPECT_TRUE(limits.Admit("alice", 0, kStart + seconds(61)));
}

TEST(UserLimitsTest, QuietUsersAreForgotten) {
  UserLimits limits(0, 10);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limits.Admit("user" + std::to_string(i), 0, kStart));
  EXPECT_EQ(limits.TrackedUsers(), 100u);
  EXPECT_FALSE(limits.Admit("alice", 0, kStart + seconds(61)));
  EXPECT_EQ(limits.TrackedUsers(), 1u);
}

TEST(UserLimitsTest, ZeroTurnsBothOff) {
  UserLimits limits(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limits.Admit("alice", i, kStart));
  EXPECT_EQ(limits.TrackedUsers(), 0u);
}

}  // namespace
}  // namespace pushgate
