#include "sshd-plugin/keys.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "registry/registry.h"
#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::TempDir;

constexpr char kShell[] = "/opt/pushgate/libexec/pushgate/pushgate-shell";

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = "/etc/pushgate/pushgate.toml";
    config_.data_dir = dir_.path();
    config_.git_user = "git";
    key_ = testing::MakeKey(dir_.path(), "alice");
    other_ = testing::MakeKey(dir_.path(), "other");
    auto registry = Registry::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    ASSERT_TRUE(registry.ok());
    ASSERT_TRUE((*registry)->AddUser("alice").ok());
    auto import = (*registry)->BeginKeyImport("alice");
    ASSERT_TRUE(import.ok());
    ASSERT_TRUE(import->Add(*ParsePublicKeyLine(key_.public_line)).ok());
    ASSERT_TRUE(import->Commit().ok());
  }

  std::string Answer(const std::string& login, const std::string& fp, const std::string& type,
                     const std::string& blob) {
    Result<std::string> line = AnswerKeysQuery(config_, kShell, {login, fp, type, blob}, standalone_context_);
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    return line.ok() ? *line : "error";
  }

  TempDir dir_;
  Config config_;
  testing::TestKey key_;
  testing::TestKey other_;
  KeysContext standalone_context_;
};

TEST_F(KeysTest, KnownKeyGetsExactlyOneForcedCommandLine) {
  EXPECT_EQ(Answer("git", key_.sha256, key_.type, key_.blob),
            "command=\"" + std::string(kShell) + " --config /etc/pushgate/pushgate.toml --user alice --key " +
                key_.sha256 + "\",restrict " + key_.type + " " + key_.blob + "\n");
}

// A 1024-bit RSA key registered before keys.min_rsa_bits existed (or before
// it was raised) no longer logs in; 2048 bits and more still do.
TEST_F(KeysTest, ShortRsaKeysAreRefusedEvenWhenStored) {
  testing::TestKey weak = testing::MakeKey(dir_.path(), "weak", "rsa", 1024);
  testing::TestKey strong = testing::MakeKey(dir_.path(), "strong", "rsa", 2048);
  {
    auto registry = Registry::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    auto import = (*registry)->BeginKeyImport("alice");
    ASSERT_TRUE(import->Add(*ParsePublicKeyLine(weak.public_line)).ok());
    ASSERT_TRUE(import->Add(*ParsePublicKeyLine(strong.public_line)).ok());
    ASSERT_TRUE(import->Commit().ok());
  }
  EXPECT_EQ(Answer("git", weak.sha256, weak.type, weak.blob), "");
  EXPECT_EQ(standalone_context_.denied_because, "an RSA key of 1024 bits, below keys.min_rsa_bits (2048)");
  standalone_context_.denied_because.clear();
  EXPECT_NE(Answer("git", strong.sha256, strong.type, strong.blob), "");
  EXPECT_EQ(standalone_context_.denied_because, "");
  config_.keys.min_rsa_bits = 1024;
  EXPECT_NE(Answer("git", weak.sha256, weak.type, weak.blob), "");
}

TEST_F(KeysTest, OtherLoginUserGetsNothing) {
  EXPECT_EQ(Answer("root", key_.sha256, key_.type, key_.blob), "");
  EXPECT_EQ(Answer("gitx", key_.sha256, key_.type, key_.blob), "");
}

TEST_F(KeysTest, UnknownKeyGetsNothing) { EXPECT_EQ(Answer("git", other_.sha256, other_.type, other_.blob), ""); }

TEST_F(KeysTest, TypeOrBlobMustMatchTheRecordByteForByte) {
  EXPECT_EQ(Answer("git", key_.sha256, "ssh-rsa", key_.blob), "");
  EXPECT_EQ(Answer("git", key_.sha256, key_.type, other_.blob), "");
  EXPECT_EQ(Answer("git", key_.sha256, key_.type, key_.blob.substr(0, key_.blob.size() - 4)), "");
}

TEST_F(KeysTest, MalformedArgumentsFromSshdGetNothing) {
  EXPECT_EQ(Answer("git", "SHA256:x", key_.type, key_.blob), "");
  EXPECT_EQ(Answer("git", key_.sha256, "ssh-ed25519\n", key_.blob), "");
  EXPECT_EQ(Answer("git", key_.sha256, key_.type, key_.blob + "\""), "");
}

TEST_F(KeysTest, EmptyDataDirGetsNothing) {
  Config empty = config_;
  empty.data_dir = dir_ / "nothing-here";
  Result<std::string> line = AnswerKeysQuery(empty, kShell, {"git", key_.sha256, key_.type, key_.blob}, standalone_context_);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "");
}

TEST_F(KeysTest, CorruptRecordIsAnErrorAndNeverPrinted) {
  {
    auto cache = KeyCache::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    auto txn = (*cache)->BeginWrite();
    ASSERT_TRUE((*cache)->TEST_PutRaw(*txn, Table::kKeys, *FingerprintDigest(key_.sha256), "\x02\x05" "alice-garbage").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", key_.sha256, key_.type, key_.blob}, standalone_context_);
  EXPECT_EQ(line.status().code(), Status::Code::kCorruption);
}

// A record written behind the registry's back (or by a buggy controller sync)
// carrying an injection attempt in the user name is refused by the writer.
TEST_F(KeysTest, InjectionInAStoredUserNameIsNeverPrinted) {
  {
    auto cache = KeyCache::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    auto txn = (*cache)->BeginWrite();
    KeyRecord evil{"alice\",command=\"/bin/sh", key_.type, key_.blob, "", 0};
    ASSERT_TRUE((*cache)->PutKey(*txn, key_.sha256, evil).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", key_.sha256, key_.type, key_.blob}, standalone_context_);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), Status::Code::kInvalidArgument);
}

// Controller mode: the freshness rules, with the clock and the sync injected.
class ControllerKeysTest : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 1700000000000;

  void SetUp() override {
    config_.path = "/etc/pushgate/pushgate.toml";
    config_.data_dir = dir_.path();
    config_.git_user = "git";
    config_.mode = Mode::kController;
    key_ = testing::MakeKey(dir_.path(), "alice");
  }

  // Writes the cache: the key (if `with_key`), the feed and the sync time.
  void Seed(bool with_key, const std::string& feed, int64_t synced_at, int64_t verified_at = 0,
            int64_t negative_until = 0) {
    auto cache = KeyCache::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    ASSERT_TRUE(cache.ok());
    auto txn = (*cache)->BeginWrite();
    if (with_key) {
      KeyRecord record{"alice", key_.type, key_.blob, "", 0, verified_at};
      ASSERT_TRUE((*cache)->PutKey(*txn, key_.sha256, record).ok());
    } else {
      ASSERT_TRUE((*cache)->DeleteKey(*txn, key_.sha256).ok());
    }
    ASSERT_TRUE((*cache)->PutMeta(*txn, kMetaFeed, feed).ok());
    ASSERT_TRUE((*cache)->PutMetaInt(*txn, kMetaSyncedAt, synced_at).ok());
    if (negative_until > 0) {
      ASSERT_TRUE((*cache)->PutNegative(*txn, key_.sha256, negative_until).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }

  // Answers at kNow with a sync that runs `effect` and reports `ok`.
  std::string Answer(bool ok, const std::function<void()>& effect = {}) {
    KeysContext context;
    context.now_ms = kNow;
    context.sync = [&] {
      ++syncs_;
      if (effect) effect();
      return ok;
    };
    Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", key_.sha256, key_.type, key_.blob}, context);
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    refresh_ = context.refresh;
    return line.ok() ? *line : "error";
  }

  TempDir dir_;
  Config config_;
  testing::TestKey key_;
  int syncs_ = 0;
  KeysContext::Refresh refresh_ = KeysContext::Refresh::kNone;  // of the last Answer
};

TEST_F(ControllerKeysTest, FreshHitAnswersWithoutSyncing) {
  Seed(true, "delta", kNow - 5000);
  EXPECT_NE(Answer(true), "");
  EXPECT_EQ(syncs_, 0);
  EXPECT_EQ(refresh_, KeysContext::Refresh::kNone);  // nothing for the metrics to count
}

TEST_F(ControllerKeysTest, StaleHitSyncsFirstAndHonoursARevocation) {
  Seed(true, "delta", kNow - 60000);
  EXPECT_NE(Answer(true, [&] { Seed(true, "delta", kNow); }), "");
  EXPECT_EQ(syncs_, 1);
  EXPECT_EQ(refresh_, KeysContext::Refresh::kStale);
  Seed(true, "delta", kNow - 60000);
  EXPECT_EQ(Answer(true, [&] { Seed(false, "delta", kNow); }), "");  // the sync brought the delete
}

TEST_F(ControllerKeysTest, ControllerDownServesCachedKeysUntilMaxStaleness) {
  Seed(true, "delta", kNow - 5 * 60000);  // older than refresh_after, younger than 10 min
  EXPECT_NE(Answer(false), "");
  EXPECT_EQ(syncs_, 1);
  Seed(true, "delta", kNow - 11 * 60000);
  EXPECT_EQ(Answer(false), "");
}

TEST_F(ControllerKeysTest, MissSyncsUnlessTheControllerAnsweredMomentsAgo) {
  Seed(false, "delta", kNow - 2000);  // within negative_ttl (10 s)
  EXPECT_EQ(Answer(true), "");
  EXPECT_EQ(syncs_, 0);
  Seed(false, "delta", kNow - 20000);
  EXPECT_NE(Answer(true, [&] { Seed(true, "delta", kNow); }), "");  // a key added on the controller
  EXPECT_EQ(syncs_, 1);
  EXPECT_EQ(refresh_, KeysContext::Refresh::kMiss);
}

// A key-scanning client: 10,000 different unknown keys in a row, one every
// 2 ms (20 s in all). With the delta feed, the controller is asked at most
// once per negative_ttl (10 s), not once per key.
TEST_F(ControllerKeysTest, TenThousandUnknownKeysReachTheControllerOncePerNegativeTtl) {
  Seed(false, "delta", kNow - 20000);
  int64_t now = kNow;
  int syncs = 0;
  for (int i = 0; i < 10000; ++i, now += 2) {
    char fingerprint[64];
    std::snprintf(fingerprint, sizeof fingerprint, "SHA256:scan%039d", i);
    KeysContext context;
    context.now_ms = now;
    context.sync = [&] {
      ++syncs;
      Seed(false, "delta", now);  // the controller answered: nothing new
      return true;
    };
    Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", fingerprint, key_.type, key_.blob}, context);
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    ASSERT_EQ(*line, "") << "an unknown key was let in";
  }
  EXPECT_LE(syncs, 1 + 20000 / 10000);
  EXPECT_GE(syncs, 1);
}

TEST_F(ControllerKeysTest, UnknownKeyWithControllerDownIsDenied) {
  Seed(false, "delta", kNow - 20000);
  EXPECT_EQ(Answer(false), "");
}

TEST_F(ControllerKeysTest, FirstEverConnectionSyncsAnEmptyCache) {
  EXPECT_NE(Answer(true, [&] { Seed(true, "delta", kNow); }), "");
  EXPECT_EQ(syncs_, 1);
}

TEST_F(ControllerKeysTest, LookupModeUsesPerKeyTimesAndTheNegativeCache) {
  Seed(true, "lookup", kNow, kNow - 30000);  // verified 30 s ago, positive_ttl 60 s
  EXPECT_NE(Answer(true), "");
  EXPECT_EQ(syncs_, 0);
  Seed(true, "lookup", kNow, kNow - 90000);  // older than positive_ttl: ask again
  EXPECT_NE(Answer(true, [&] { Seed(true, "lookup", kNow, kNow); }), "");
  EXPECT_EQ(syncs_, 1);
  Seed(false, "lookup", kNow, 0, kNow + 5000);  // known unknown for 5 more seconds
  EXPECT_EQ(Answer(true), "");
  EXPECT_EQ(syncs_, 1);
  Seed(true, "lookup", kNow, kNow - 20 * 60000);  // controller down, key 20 min old
  EXPECT_EQ(Answer(false), "");
}

TEST_F(ControllerKeysTest, StandaloneModeNeverSyncs) {
  config_.mode = Mode::kStandalone;
  Seed(true, "", 0);
  EXPECT_NE(Answer(true), "");
  EXPECT_EQ(syncs_, 0);
}

}  // namespace
}  // namespace pushgate
