// kill -9 of a sync process at random moments: afterwards the cache opens,
// its index is consistent, it is at some revision the controller had, and
// the next sync converges.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "sync/sync_service.h"
#include "controller/client.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/synthetic_keys.h"
#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::FakeController;
using testing::TempDir;

TEST(SyncCrashTest, KilledSyncsLeaveAConsistentCacheThatConverges) {
  TempDir dir;
  FakeController fake;
  testing::WriteFile(dir / "token", "test-token", 0600);
  Config config;
  config.data_dir = dir.path();
  config.mode = Mode::kController;
  config.controller.url = fake.url();
  config.controller.token_file = dir / "token";

  std::vector<std::string> lines;
  for (uint64_t i = 0; i < 3000; ++i) {
    lines.push_back(testing::SyntheticKeyLine(testing::SyntheticKeyType::kEd25519, i, "crash"));
  }
  fake.AddKeys("alice", lines);
  std::mt19937_64 rng(7);
  uint64_t next = 100000;
  int killed_mid_sync = 0;
  for (int round = 0; round < 100; ++round) {
    // Change the controller a little between rounds, sometimes compacting.
    for (int i = 0; i < 20; ++i) {
      fake.AddKey(rng() % 2 ? "bob" : "carol",
                  testing::SyntheticKeyLine(testing::SyntheticKeyType::kEd25519, next++, "crash"));
    }
    if (rng() % 5 == 0) fake.Compact();
    pid_t child = ::fork();
    if (child == 0) {
      // The child: one sync, as pushgate-sync --once does.
      auto client = ControllerClient::Create(config.controller);
      if (!client.ok()) ::_exit(2);
      Result<SyncReport> report = SyncOnce(config, **client, UnixNowMs, std::chrono::seconds(5));
      ::_exit(report.ok() ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) ++killed_mid_sync;

    Result<std::unique_ptr<KeyCache>> cache = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadWrite);
    if (!cache.ok() && cache.status().IsNotFound()) continue;  // killed before creating it
    ASSERT_TRUE(cache.ok()) << "round " << round << ": " << cache.status().ToString();
    auto txn = (*cache)->BeginRead();
    ASSERT_TRUE((*cache)->VerifyIndex(*txn).ok()) << "round " << round;
    Result<int64_t> revision = (*cache)->GetMetaInt(*txn, kMetaRevision);
    ASSERT_TRUE(revision.ok());
    EXPECT_LE(static_cast<uint64_t>(*revision), fake.revision());
  }
  EXPECT_GT(killed_mid_sync, 10) << "the kills should land during syncs";

  auto client = ControllerClient::Create(config.controller);
  ASSERT_TRUE(client.ok());
  Result<SyncReport> report = SyncOnce(config, **client, UnixNowMs, std::chrono::seconds(5));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto cache = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadOnly);
  auto txn = (*cache)->BeginRead();
  EXPECT_EQ(*(*cache)->KeyCount(*txn), fake.Keys().size());
  std::map<std::string, std::string> cached;
  ASSERT_TRUE((*cache)->ForEachKey(*txn, [&](std::string_view fp, const KeyRecord& r) {
    cached[std::string(fp)] = r.user + " " + r.type + " " + r.blob + " " + r.comment;
    return Status::OK();
  }).ok());
  EXPECT_EQ(cached, fake.Keys());
}

}  // namespace
}  // namespace pushgate
