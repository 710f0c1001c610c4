#include "session/pusher_limits.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::TempDir;

TEST(PusherLimitsTest, PushSlotsAreHeldUntilReleased) {
  TempDir dir;
  DataDir dirs(dir.path());
  Result<std::optional<FileLock>> first = TakePushSlot(dirs, "alice", "alice", 2);
  Result<std::optional<FileLock>> second = TakePushSlot(dirs, "alice", "alice", 2);
  ASSERT_TRUE(first.ok() && *first) << first.status().ToString();
  ASSERT_TRUE(second.ok() && *second) << second.status().ToString();
  Result<std::optional<FileLock>> third = TakePushSlot(dirs, "alice", "alice", 2);
  EXPECT_EQ(third.status().code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(third.status().message(), "too many pushes in progress for alice (2 at once, push.max_pushes_per_user); "
                                      "try again when one has finished");
  EXPECT_NE(third.status().message().find("at once, push.max_pushes_per_user); try again when one has finished"),
            std::string::npos);
  EXPECT_TRUE(TakePushSlot(dirs, "bob", "bob", 2).ok()) << "another pusher has slots of their own";
  EXPECT_TRUE(TakePushSlot(dirs, "deploy-key:web:ci", "deploy-key:ci", 2).ok());
  first = Status::NotFound("released");  // closes the descriptor, as a finished push does
  EXPECT_TRUE(TakePushSlot(dirs, "alice", "alice", 2).ok());
  Result<std::optional<FileLock>> unlimited = TakePushSlot(dirs, "alice", "alice", 0);
  ASSERT_TRUE(unlimited.ok());
  EXPECT_FALSE(*unlimited);
}

TEST(PusherLimitsTest, RequestsAreCountedPerMinuteWithTheMinuteAsBurst) {
  TempDir dir;
  DataDir dirs(dir.path());
  const int64_t t0 = 1700000000000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(CountRequest(dirs, "alice", "alice", 3, t0).ok()) << i;
  Status over = CountRequest(dirs, "alice", "alice", 3, t0);
  EXPECT_EQ(over.code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(over.message(), "alice made 3 requests in the last minute, the most allowed "
                            "(push.max_requests_per_minute); try again in 20s");
  EXPECT_NE(over.message().find("requests in the last minute, the most allowed (push.max_requests_per_minute); try again in"),
            std::string::npos);
  EXPECT_TRUE(CountRequest(dirs, "bob", "bob", 3, t0).ok()) << "per pusher";
  EXPECT_FALSE(CountRequest(dirs, "alice", "alice", 3, t0 + 19000).ok());
  EXPECT_TRUE(CountRequest(dirs, "alice", "alice", 3, t0 + 20000).ok()) << "one more every 20 s";
  EXPECT_FALSE(CountRequest(dirs, "alice", "alice", 3, t0 + 20000).ok());
  EXPECT_TRUE(CountRequest(dirs, "alice", "alice", 3, t0 + 200000).ok()) << "a quiet spell refills the bucket";
  EXPECT_TRUE(CountRequest(dirs, "alice", "alice", 0, t0).ok()) << "0: no limit";
  // A damaged file starts a fresh bucket rather than locking anyone out.
  testing::WriteFile(dirs.PusherRate("carol"), "garbage");
  EXPECT_TRUE(CountRequest(dirs, "carol", "carol", 3, t0).ok());
}

}  // namespace
}  // namespace pushgate
