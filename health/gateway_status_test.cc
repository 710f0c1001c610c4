#include "health/gateway_status.h"

#include <gtest/gtest.h>

#include <chrono>

#include "cache/cache.h"
#include "data-dir/drain.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/duration.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using Health = GatewayStatus::Health;
using testing::FakeController;
using testing::TempDir;

// A controller-mode cache as pushgate-sync leaves it.
void WriteCache(const Config& config, int64_t synced_at_ms, const std::string& last_error) {
  auto cache = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadWrite);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  auto txn = (*cache)->BeginWrite();
  ASSERT_TRUE((*cache)->PutMetaInt(*txn, kMetaRevision, 42).ok());
  ASSERT_TRUE((*cache)->PutMetaInt(*txn, kMetaSyncedAt, synced_at_ms).ok());
  ASSERT_TRUE((*cache)->PutMeta(*txn, kMetaFeed, "delta").ok());
  ASSERT_TRUE((*cache)->PutMeta(*txn, kMetaLastError, last_error).ok());
  ASSERT_TRUE(txn->Commit().ok());
}

class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_ / "token", "test-token\n", 0600);
    config_.data_dir = dir_ / "data";
    ASSERT_TRUE(MakeDirs(config_.dirs().Repos() + "/web.git", 0755).ok());
    config_.mode = Mode::kController;
    config_.controller.url = fake_.url();
    config_.controller.token_file = dir_ / "token";
  }
  TempDir dir_;
  FakeController fake_;
  Config config_;
};

TEST_F(StatusTest, HealthyControllerGateway) {
  WriteCache(config_, UnixNowMs(), "");
  GatewayStatus s = CollectStatus(config_);
  EXPECT_EQ(s.health, Health::kHealthy) << s.ToText();
  EXPECT_EQ(s.repos, 1);
  EXPECT_EQ(s.cache_revision, 42);
  EXPECT_TRUE(s.controller_reachable);
  EXPECT_NE(s.ToJson().find("\"health\":\"healthy\""), std::string::npos) << s.ToJson();
  EXPECT_NE(s.ToText().find("controller: reachable"), std::string::npos) << s.ToText();
}

TEST_F(StatusTest, DegradedWhenDrainingOrTheControllerIsDownOrTheBreakerTripped) {
  WriteCache(config_, UnixNowMs(), "");
  ASSERT_TRUE(SetDraining(config_.dirs(), true).ok());
  GatewayStatus draining = CollectStatus(config_);
  EXPECT_EQ(draining.health, Health::kDegraded);
  EXPECT_TRUE(draining.draining);
  ASSERT_TRUE(SetDraining(config_.dirs(), false).ok());

  fake_.Stop();
  GatewayStatus unreachable = CollectStatus(config_);
  EXPECT_EQ(unreachable.health, Health::kDegraded) << unreachable.ToText();
  EXPECT_FALSE(unreachable.controller_reachable);
  fake_.Start();

  testing::WriteFile(config_.dirs().LastReaperRun(), "{\"removed\":0,\"breaker\":\"40 of 50 ...\"}\n");
  GatewayStatus tripped = CollectStatus(config_);
  EXPECT_EQ(tripped.health, Health::kDegraded);
  EXPECT_NE(tripped.ToText().find("circuit breaker"), std::string::npos) << tripped.ToText();

  // Read as data: a breaker reason elsewhere in the record is not a trip.
  testing::WriteFile(config_.dirs().LastReaperRun(), "{\"removed\":1,\"note\":\"\\\"breaker\\\":x\",\"breaker\":\"\"}\n");
  GatewayStatus clean = CollectStatus(config_);
  EXPECT_EQ(clean.health, Health::kHealthy) << clean.ToText();
  testing::WriteFile(config_.dirs().LastReaperRun(), "{\"removed\":");
  GatewayStatus unreadable = CollectStatus(config_);
  EXPECT_EQ(unreadable.health, Health::kDegraded);
  EXPECT_NE(unreadable.ToText().find("reaper-last.json is not a flat JSON object"), std::string::npos)
      << unreadable.ToText();
}

TEST_F(StatusTest, DownWhenTheCacheIsTooOldToServeKeys) {
  WriteCache(config_, UnixNowMs() - 3600 * 1000, "connect refused");
  GatewayStatus s = CollectStatus(config_);
  EXPECT_EQ(s.health, Health::kDown) << s.ToText();
  EXPECT_EQ(s.last_sync_error, "connect refused");
  EXPECT_GE(s.cache_age_s, 3599);
}

TEST_F(StatusTest, FreshStandaloneGatewayIsDegradedNotDown) {
  config_.mode = Mode::kStandalone;
  GatewayStatus s = CollectStatus(config_);
  EXPECT_EQ(s.health, Health::kDegraded) << s.ToText();
  EXPECT_NE(s.ToText().find("pushgate user add"), std::string::npos);
  EXPECT_EQ(s.ToJson().find("cache_revision"), std::string::npos);
}

}  // namespace
}  // namespace pushgate
