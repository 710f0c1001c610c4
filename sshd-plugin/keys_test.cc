#include "sshd-plugin/keys.h"

#include <gtest/gtest.h>

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
    auto registry = Registry::Open(config_.DbDir(), KeyCache::Access::kReadWrite);
    ASSERT_TRUE(registry.ok());
    ASSERT_TRUE((*registry)->AddUser("alice").ok());
    auto import = (*registry)->BeginKeyImport("alice");
    ASSERT_TRUE(import.ok());
    ASSERT_TRUE(import->Add(*ParsePublicKeyLine(key_.public_line)).ok());
    ASSERT_TRUE(import->Commit().ok());
  }

  std::string Answer(const std::string& login, const std::string& fp, const std::string& type,
                     const std::string& blob) {
    Result<std::string> line = AnswerKeysQuery(config_, kShell, {login, fp, type, blob});
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    return line.ok() ? *line : "error";
  }

  TempDir dir_;
  Config config_;
  testing::TestKey key_;
  testing::TestKey other_;
};

TEST_F(KeysTest, KnownKeyGetsExactlyOneForcedCommandLine) {
  EXPECT_EQ(Answer("git", key_.sha256, key_.type, key_.blob),
            "command=\"" + std::string(kShell) + " --config /etc/pushgate/pushgate.toml --user alice --key " +
                key_.sha256 + "\",restrict " + key_.type + " " + key_.blob + "\n");
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
  Result<std::string> line = AnswerKeysQuery(empty, kShell, {"git", key_.sha256, key_.type, key_.blob});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line, "");
}

TEST_F(KeysTest, CorruptRecordIsAnErrorAndNeverPrinted) {
  {
    auto cache = KeyCache::Open(config_.DbDir(), KeyCache::Access::kReadWrite);
    auto txn = (*cache)->BeginWrite();
    ASSERT_TRUE(txn->Put((*cache)->dbi(Table::kKeys), key_.sha256, "\x01\x05" "alice-garbage").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", key_.sha256, key_.type, key_.blob});
  EXPECT_EQ(line.status().code(), Status::Code::kCorruption);
}

// A record written behind the registry's back (or by a buggy controller sync)
// carrying an injection attempt in the user name is refused by the writer.
TEST_F(KeysTest, InjectionInAStoredUserNameIsNeverPrinted) {
  {
    auto cache = KeyCache::Open(config_.DbDir(), KeyCache::Access::kReadWrite);
    auto txn = (*cache)->BeginWrite();
    KeyRecord evil{"alice\",command=\"/bin/sh", key_.type, key_.blob, "", 0};
    ASSERT_TRUE((*cache)->PutKey(*txn, key_.sha256, evil).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::string> line = AnswerKeysQuery(config_, kShell, {"git", key_.sha256, key_.type, key_.blob});
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace pushgate
