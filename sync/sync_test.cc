#include "sync/sync.h"

#include <gtest/gtest.h>

#include <random>

#include "controller/client.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/synthetic_keys.h"
#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::FakeController;
using testing::TempDir;

std::string Key(uint64_t seed) {
  return testing::SyntheticKeyLine(testing::SyntheticKeyType::kEd25519, seed, "k" + std::to_string(seed));
}

using testing::FailingSource;

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_ / "token", "test-token", 0600);
    ControllerConfig config;
    config.url = fake_.url();
    config.token_file = dir_ / "token";
    client_ = std::move(ControllerClient::Create(config)).value();
    cache_ = std::move(KeyCache::Open(dir_ / "db", KeyCache::Access::kReadWrite)).value();
  }

  Result<SyncReport> Sync(KeySource& source, size_t page_limit = 1000, int64_t now = 1000) {
    SyncOptions options;
    options.page_limit = page_limit;
    options.now_ms = now;
    return SyncFromFeed(*cache_, source, options);
  }
  Result<SyncReport> Sync(size_t page_limit = 1000) { return Sync(*client_, page_limit); }

  // The cache's active set as fingerprint -> "user key-line" (the fake's shape).
  std::map<std::string, std::string> CacheKeys() {
    std::map<std::string, std::string> out;
    auto txn = cache_->BeginRead();
    EXPECT_TRUE(cache_->ForEachKey(*txn, [&](std::string_view fp, const KeyRecord& r) {
      out[std::string(fp)] = r.user + " " + r.type + " " + r.blob + (r.comment.empty() ? "" : " " + r.comment);
      return Status::OK();
    }).ok());
    EXPECT_TRUE(cache_->VerifyIndex(*txn).ok());
    return out;
  }
  int64_t Meta(std::string_view name) {
    auto txn = cache_->BeginRead();
    return *cache_->GetMetaInt(*txn, name);
  }

  TempDir dir_;
  FakeController fake_;
  std::unique_ptr<ControllerClient> client_;
  std::unique_ptr<KeyCache> cache_;
};

TEST_F(SyncTest, FirstSyncPullsEverything) {
  for (uint64_t i = 0; i < 5; ++i) fake_.AddKey(i % 2 ? "alice" : "bob", Key(i));
  Result<SyncReport> report = Sync(2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, SyncReport::Outcome::kSynced);
  EXPECT_EQ(report->pages, 3u);
  EXPECT_EQ(report->puts, 5u);
  EXPECT_EQ(CacheKeys(), fake_.Keys());
  EXPECT_EQ(Meta(kMetaRevision), static_cast<int64_t>(fake_.revision()));
  EXPECT_EQ(Meta(kMetaSyncedAt), 1000);
  auto txn = cache_->BeginRead();
  EXPECT_EQ(*cache_->GetMeta(*txn, kMetaFeed), "delta");
}

TEST_F(SyncTest, IncrementalSyncAppliesPutsAndDeletes) {
  std::string a = fake_.AddKey("alice", Key(1));
  fake_.AddKey("alice", Key(2));
  ASSERT_TRUE(Sync().ok());
  fake_.RemoveKey(a);
  fake_.AddKey("bob", Key(3));
  Result<SyncReport> report = Sync();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->puts, 1u);
  EXPECT_EQ(report->deletes, 1u);
  EXPECT_FALSE(report->resynced);
  EXPECT_EQ(CacheKeys(), fake_.Keys());
  // Nothing new: one request, nothing applied.
  report = Sync();
  EXPECT_EQ(report->puts + report->deletes, 0u);
}

TEST_F(SyncTest, GoneResyncsAndDropsKeysDeletedMeanwhile) {
  std::string a = fake_.AddKey("alice", Key(1));
  fake_.AddKey("alice", Key(2));
  ASSERT_TRUE(Sync().ok());
  fake_.RemoveKey(a);
  fake_.AddKey("bob", Key(3));
  fake_.Compact();  // the delete is no longer in the history
  fake_.AddKey("bob", Key(4));
  Result<SyncReport> report = Sync(1);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->resynced);
  EXPECT_EQ(CacheKeys(), fake_.Keys());
  EXPECT_EQ(Meta(kMetaRevision), static_cast<int64_t>(fake_.revision()));
}

// Found by the cache_delta fuzz target: a snapshot whose newest change was
// compacted away (a delete) must still leave the cache at the controller's
// current revision, or every later sync gets 410 and resyncs again.
TEST_F(SyncTest, SnapshotEndingBelowTheCurrentRevisionDoesNotResyncForever) {
  fake_.AddKey("alice", Key(1));
  std::string b = fake_.AddKey("bob", Key(2));
  fake_.RemoveKey(b);
  fake_.Compact();  // the history is now only key 1's put, at revision 1 of 3
  Result<SyncReport> first = Sync(1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->revision, fake_.revision());
  EXPECT_EQ(CacheKeys(), fake_.Keys());
  Result<SyncReport> second = Sync(1);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->resynced);
  EXPECT_EQ(second->puts, 0u);
}

TEST_F(SyncTest, InterruptedResyncKeepsTheOldSetAndStartsOver) {
  for (uint64_t i = 0; i < 3; ++i) fake_.AddKey("alice", Key(i));
  ASSERT_TRUE(Sync().ok());
  auto before = CacheKeys();
  for (uint64_t i = 10; i < 14; ++i) fake_.AddKey("bob", Key(i));
  fake_.Compact();
  // Call 1: 410. Call 2: first staging page. Call 3 fails.
  FailingSource failing(*client_, 3);
  EXPECT_FALSE(Sync(failing, 2).ok());
  EXPECT_EQ(CacheKeys(), before);  // readers still see the old, complete set
  EXPECT_EQ(Meta(kMetaRevision), 3);
  int requests = fake_.Requests("/v2/hooks/keys");
  Result<SyncReport> report = Sync(2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->resynced);
  EXPECT_EQ(CacheKeys(), fake_.Keys());
  // 410 again for since=3, then the whole walk: since=0, 2, 4, 6.
  EXPECT_EQ(fake_.Requests("/v2/hooks/keys") - requests, 5);
}

TEST(SyncGoneTest, ControllerRefusingSnapshotContinuationsFailsClearly) {
  TempDir dir;
  FakeController::Options options;
  options.honor_snapshot = false;
  FakeController fake(options);
  for (uint64_t i = 0; i < 4; ++i) fake.AddKey("alice", Key(i));
  testing::WriteFile(dir / "token", "test-token", 0600);
  ControllerConfig config;
  config.url = fake.url();
  config.token_file = dir / "token";
  auto client = std::move(ControllerClient::Create(config)).value();
  auto cache = std::move(KeyCache::Open(dir / "db", KeyCache::Access::kReadWrite)).value();
  SyncOptions sync;
  sync.page_limit = 1;
  ASSERT_TRUE(SyncFromFeed(*cache, *client, sync).ok());
  fake.AddKey("bob", Key(9));
  fake.Compact();
  cache = std::move(KeyCache::Open(dir / "db", KeyCache::Access::kReadWrite)).value();
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutMetaInt(*txn, kMetaRevision, 1).ok());  // fall behind the horizon
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<SyncReport> report = SyncFromFeed(*cache, *client, sync);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("snapshot continuation"), std::string::npos) << report.status().message();
  EXPECT_LT(fake.Requests("/v2/hooks/keys"), 20);
}

TEST_F(SyncTest, FeedlessControllerSwitchesToLookups) {
  fake_.SetDeltaFeed(false);
  Result<SyncReport> report = Sync();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->outcome, SyncReport::Outcome::kNoFeed);
  auto txn = cache_->BeginRead();
  EXPECT_EQ(*cache_->GetMeta(*txn, kMetaFeed), "lookup");
}

// Whatever the controller sends, only keys that check out are stored, and a
// rejected put can only take a key away.
TEST_F(SyncTest, HostileChangesAreRejectedAndCanOnlyDeny) {
  std::string alice = fake_.AddKey("alice", Key(1));
  std::string good = fake_.AddKey("carol", Key(5));
  ASSERT_TRUE(Sync().ok());
  std::string bob_key = Key(2);
  std::string bob_fp = fake_.AddKey("bob", bob_key);
  fake_.AddRawChange("put", alice, "alice", bob_key);                         // fingerprint of another key
  fake_.AddRawChange("put", good, "carol", "command=\"sh\" " + Key(5));        // options
  fake_.AddRawChange("put", bob_fp, "bob\",command=\"sh", bob_key);           // injection in the name
  fake_.AddRawChange("put", bob_fp, "bob", bob_key + "\nssh-ed25519 AAAA");    // a second line
  fake_.AddRawChange("delete", "../../etc/passwd", "", "");                   // not a fingerprint
  Result<SyncReport> report = Sync();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rejected, 5u);
  auto keys = CacheKeys();
  EXPECT_FALSE(keys.count(alice));   // its bad put removed the old record
  EXPECT_FALSE(keys.count(good));
  EXPECT_FALSE(keys.count(bob_fp));
  EXPECT_EQ(Meta(kMetaRevision), static_cast<int64_t>(fake_.revision()));  // the feed moves on
}

TEST_F(SyncTest, ShortRsaKeysFromTheControllerAreRejected) {
  testing::TempDir keys;
  testing::TestKey weak = testing::MakeKey(keys.path(), "weak", "rsa", 1024);
  testing::TestKey strong = testing::MakeKey(keys.path(), "strong", "rsa", 2048);
  std::string weak_fp = fake_.AddKey("alice", weak.public_line);
  std::string strong_fp = fake_.AddKey("alice", strong.public_line);
  Result<SyncReport> report = Sync();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rejected, 1u);
  EXPECT_FALSE(CacheKeys().count(weak_fp));
  EXPECT_TRUE(CacheKeys().count(strong_fp));
}

TEST_F(SyncTest, RevisionGoingBackwardsIsAnErrorAndAppliesNothing) {
  fake_.AddKey("alice", Key(1));
  ASSERT_TRUE(Sync().ok());
  fake_.AddKey("alice", Key(2));
  fake_.InjectFault("/v2/hooks/keys", FakeController::Fault::kBackwards);
  Result<SyncReport> report = Sync();
  EXPECT_EQ(report.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(CacheKeys().size(), 1u);
  EXPECT_EQ(Meta(kMetaRevision), 1);
}

TEST_F(SyncTest, LookupCachesOwnersAndRemembersUnknownKeys) {
  std::string line = Key(1);
  std::string fp = fake_.AddKey("alice", line);
  size_t space = line.find(' ');
  std::string type = line.substr(0, space);
  std::string blob = line.substr(space + 1, line.rfind(' ') - space - 1);
  Result<LookupOutcome> known = LookupKey(*cache_, *client_, type, blob, 5000, std::chrono::seconds(10));
  ASSERT_TRUE(known.ok()) << known.status().ToString();
  EXPECT_TRUE(known->known);
  KeyLookup cached = *cache_->Lookup(fp);
  ASSERT_TRUE(cached.record.has_value());
  EXPECT_EQ(cached.record->user, "alice");
  EXPECT_EQ(cached.record->verified_at_ms, 5000);
  EXPECT_EQ(cached.feed, "lookup");

  fake_.RemoveKey(fp);
  Result<LookupOutcome> gone = LookupKey(*cache_, *client_, type, blob, 6000, std::chrono::seconds(10));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->known);
  cached = *cache_->Lookup(fp);
  EXPECT_FALSE(cached.record.has_value());
  EXPECT_EQ(cached.negative_until_ms, 16000);
  EXPECT_FALSE(LookupKey(*cache_, *client_, "ssh-ed25519", "AAAA", 7000, std::chrono::seconds(10)).ok());
}

// The differences between two key sets, short enough to read in a failure.
std::string Diff(const std::map<std::string, std::string>& cache, const std::map<std::string, std::string>& want) {
  std::string out;
  for (const auto& [fp, v] : cache) {
    if (!want.count(fp)) out += "  extra in cache: " + fp + "\n";
  }
  for (const auto& [fp, v] : want) {
    auto it = cache.find(fp);
    if (it == cache.end()) out += "  missing from cache: " + fp + "\n";
    else if (it->second != v) out += "  differs: " + fp + "\n";
  }
  return out;
}

// Random puts, deletes and compactions on the controller, interleaved with
// syncs that are cut off at random points and use random page sizes: after a
// final uninterrupted sync the cache holds exactly the controller's keys,
// and every successful sync leaves it equal to the controller at that moment.
class SyncPropertyTest : public SyncTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SyncPropertyTest, RandomHistoryAlwaysConverges) {
  std::mt19937_64 rng(GetParam());
  std::vector<std::string> live;
  uint64_t next_key = 1;
  const char* users[] = {"alice", "bob", "carol"};
  for (int step = 0; step < 400; ++step) {
    int action = static_cast<int>(rng() % 10);
    if (action < 5 || live.empty()) {
      live.push_back(fake_.AddKey(users[rng() % 3], Key(next_key++)));
    } else if (action < 8) {
      size_t i = rng() % live.size();
      fake_.RemoveKey(live[i]);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (action == 8 && rng() % 4 == 0) {
      fake_.Compact();
    } else {
      int fail_at = static_cast<int>(rng() % 4);  // 0: no failure
      FailingSource source(*client_, fail_at);
      Result<SyncReport> report = Sync(source, 1 + rng() % 6);
      if (report.ok()) {
        std::string diff = Diff(CacheKeys(), fake_.Keys());
        ASSERT_EQ(diff, "") << "step " << step << " (fail_at " << fail_at << ", resynced " << report->resynced
                            << ", revision " << report->revision << " of " << fake_.revision() << ")";
      }
      auto txn = cache_->BeginRead();
      ASSERT_TRUE(cache_->VerifyIndex(*txn).ok()) << "step " << step;
    }
  }
  ASSERT_TRUE(Sync(3).ok());
  EXPECT_EQ(Diff(CacheKeys(), fake_.Keys()), "");
  EXPECT_EQ(Meta(kMetaRevision), static_cast<int64_t>(fake_.revision()));
}

INSTANTIATE_TEST_SUITE_P(Seeds, SyncPropertyTest, ::testing::Values(20261123, 1, 2, 3, 42));

}  // namespace
}  // namespace pushgate
