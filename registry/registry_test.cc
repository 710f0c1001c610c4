#include "registry/registry.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::TempDir;

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_dir_ = new TempDir;
    for (int i = 0; i < 3; ++i) {
      auto k = testing::MakeKey(keys_dir_->path(), "k" + std::to_string(i));
      keys_.push_back(*ParsePublicKeyLine(k.public_line));
    }
  }
  static void TearDownTestSuite() { delete keys_dir_; }

  void SetUp() override {
    auto r = Registry::Open(dir_ / "db", KeyCache::Access::kReadWrite);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    registry_ = std::move(r).value();
  }

  Status AddKeys(const std::string& user, const std::vector<PublicKey>& keys, size_t* added = nullptr) {
    PG_ASSIGN_OR_RETURN(KeyImport import, registry_->BeginKeyImport(user));
    for (const PublicKey& k : keys) PG_RETURN_IF_ERROR(import.Add(k));
    PG_RETURN_IF_ERROR(import.Commit());
    if (added) *added = import.added();
    return Status::OK();
  }

  static TempDir* keys_dir_;
  static std::vector<PublicKey> keys_;
  TempDir dir_;
  std::unique_ptr<Registry> registry_;
};
TempDir* RegistryTest::keys_dir_;
std::vector<PublicKey> RegistryTest::keys_;

TEST_F(RegistryTest, UsersAddListRemove) {
  ASSERT_TRUE(registry_->AddUser("bob").ok());
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  EXPECT_TRUE(registry_->AddUser("alice").IsAlreadyExists());
  EXPECT_EQ(registry_->AddUser("Alice").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry_->AddUser("a b").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(*registry_->ListUsers(), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_TRUE(registry_->RemoveUser("bob").ok());
  EXPECT_TRUE(registry_->RemoveUser("bob").IsNotFound());
  EXPECT_EQ(*registry_->ListUsers(), (std::vector<std::string>{"alice"}));
}

TEST_F(RegistryTest, KeyImportIsAtomicAndRefusesKeysOfOtherUsers) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->AddUser("bob").ok());
  size_t added = 0;
  ASSERT_TRUE(AddKeys("alice", {keys_[0], keys_[1]}, &added).ok());
  EXPECT_EQ(added, 2u);
  // Bob's import contains alice's key: nothing of it is applied.
  Status s = AddKeys("bob", {keys_[2], keys_[0]});
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_TRUE(registry_->ListKeys(std::string_view("bob"))->empty());
  EXPECT_FALSE(registry_->cache().Lookup(keys_[2].sha256_fingerprint)->record.has_value());
  // Re-adding one's own key is fine and changes nothing.
  ASSERT_TRUE(AddKeys("alice", {keys_[0], keys_[2]}, &added).ok());
  EXPECT_EQ(added, 1u);
  auto alice = registry_->ListKeys(std::string_view("alice"));
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->size(), 3u);
  EXPECT_TRUE(registry_->BeginKeyImport("nobody").status().IsNotFound());
}

TEST_F(RegistryTest, StoredKeyRecordIsExactlyTheParsedKey) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(AddKeys("alice", {keys_[0]}).ok());
  auto found = registry_->cache().Lookup(keys_[0].sha256_fingerprint);
  ASSERT_TRUE(found.ok() && found->record.has_value());
  const KeyRecord& record = *found->record;
  EXPECT_EQ(record.user, "alice");
  EXPECT_EQ(record.type, keys_[0].type);
  EXPECT_EQ(record.blob, keys_[0].blob);
  EXPECT_EQ(record.comment, keys_[0].comment);
  EXPECT_GT(record.added_at, 0);
}

TEST_F(RegistryTest, RemoveKeyAndUserCascade) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(AddKeys("alice", {keys_[0], keys_[1]}).ok());
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  ASSERT_TRUE(registry_->RemoveKey(keys_[0].sha256_fingerprint).ok());
  EXPECT_TRUE(registry_->RemoveKey(keys_[0].sha256_fingerprint).IsNotFound());
  EXPECT_EQ(registry_->RemoveKey("not-a-fingerprint").code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(registry_->RemoveUser("alice").ok());
  EXPECT_FALSE(registry_->cache().Lookup(keys_[1].sha256_fingerprint)->record.has_value());
  EXPECT_FALSE(*registry_->IsMember("web", "alice"));
  // The name can be reused without inheriting anything.
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  EXPECT_TRUE(registry_->ListKeys(std::string_view("alice"))->empty());
  EXPECT_FALSE(*registry_->IsMember("web", "alice"));
}

TEST_F(RegistryTest, AppsMembersGrantRevoke) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->AddUser("bob").ok());
  EXPECT_TRUE(registry_->CreateApp("web", {"ghost"}).IsNotFound());
  EXPECT_FALSE(*registry_->AppExists("web"));  // the failed create left nothing
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  EXPECT_TRUE(registry_->CreateApp("web", {}).IsAlreadyExists());
  EXPECT_EQ(registry_->CreateApp("../x", {}).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(registry_->CreateApp("api", {}).ok());
  EXPECT_TRUE(*registry_->IsMember("web", "alice"));
  EXPECT_FALSE(*registry_->IsMember("web", "bob"));
  Result<bool> granted = registry_->Grant("web", "bob");
  ASSERT_TRUE(granted.ok());
  EXPECT_TRUE(*granted);
  granted = registry_->Grant("web", "bob");  // idempotent: succeeds, changes nothing
  ASSERT_TRUE(granted.ok());
  EXPECT_FALSE(*granted);
  EXPECT_TRUE(*registry_->IsMember("web", "bob"));
  EXPECT_TRUE(registry_->Grant("nope", "bob").status().IsNotFound());
  EXPECT_TRUE(registry_->Grant("web", "nobody").status().IsNotFound());
  Result<bool> revoked = registry_->Revoke("web", "alice");
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(*revoked);
  revoked = registry_->Revoke("web", "alice");  // idempotent too
  ASSERT_TRUE(revoked.ok());
  EXPECT_FALSE(*revoked);
  EXPECT_TRUE(registry_->Revoke("nope", "alice").status().IsNotFound());
  auto apps = registry_->ListApps();
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 2u);
  EXPECT_EQ((*apps)[0].name, "api");
  EXPECT_TRUE((*apps)[0].members.empty());
  EXPECT_EQ((*apps)[1].name, "web");
  EXPECT_EQ((*apps)[1].members, (std::vector<std::string>{"bob"}));
  ASSERT_TRUE(registry_->RemoveApp("web").ok());
  EXPECT_FALSE(*registry_->AppExists("web"));
  EXPECT_FALSE(*registry_->IsMember("web", "bob"));
  EXPECT_TRUE(registry_->RemoveApp("web").IsNotFound());
}

TEST_F(RegistryTest, MembershipOfSimilarNamesDoesNotLeak) {
  ASSERT_TRUE(registry_->AddUser("al").ok());
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  ASSERT_TRUE(registry_->CreateApp("web2", {"al"}).ok());
  EXPECT_FALSE(*registry_->IsMember("web", "al"));
  EXPECT_FALSE(*registry_->IsMember("web2", "alice"));
  auto apps = registry_->ListApps();
  EXPECT_EQ((*apps)[0].members, (std::vector<std::string>{"alice"}));
  EXPECT_EQ((*apps)[1].members, (std::vector<std::string>{"al"}));
}

TEST_F(RegistryTest, BackupIsAConsistentOpenableCopy) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(AddKeys("alice", {keys_[0]}).ok());
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  ASSERT_EQ(::mkdir((dir_ / "restore").c_str(), 0700), 0);
  int fd = ::open((dir_ / "restore/data.mdb").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(registry_->Backup(fd).ok());
  ::close(fd);
  auto restored = Registry::Open(dir_ / "restore", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_TRUE(*(*restored)->IsMember("web", "alice"));
  EXPECT_TRUE((*restored)->cache().Lookup(keys_[0].sha256_fingerprint)->record.has_value());
}

TEST_F(RegistryTest, DeployKeysBelongToOneAppAndNeverToAUser) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  ASSERT_TRUE(registry_->CreateApp("api", {}).ok());
  ASSERT_TRUE(registry_->AddDeployKey("web", "ci", keys_[0], /*push=*/true).ok());
  ASSERT_TRUE(registry_->AddDeployKey("web", "mirror", keys_[1], /*push=*/false).ok());

  Result<std::vector<StoredDeployKey>> listed = registry_->ListDeployKeys("web");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].entry, (DeployKeyEntry{"ci", keys_[0].sha256_fingerprint, true}));
  EXPECT_EQ((*listed)[1].entry, (DeployKeyEntry{"mirror", keys_[1].sha256_fingerprint, false}));
  EXPECT_EQ((*listed)[0].record.user, "deploy-key:web:ci");
  EXPECT_TRUE(registry_->ListDeployKeys("api")->empty());

  // Not a member, not a user's key.
  EXPECT_EQ(registry_->ListApps()->front().members, std::vector<std::string>{});  // api
  EXPECT_TRUE(registry_->ListKeys(std::nullopt)->empty());
  EXPECT_FALSE(*registry_->IsMember("web", "deploy-key:web:ci"));

  // One name per app, one owner per key, wherever it is registered.
  EXPECT_TRUE(registry_->AddDeployKey("web", "ci", keys_[2], true).IsAlreadyExists());
  Status taken = registry_->AddDeployKey("api", "ci", keys_[0], true);
  EXPECT_TRUE(taken.IsAlreadyExists());
  EXPECT_NE(taken.message().find("deploy key ci of app web"), std::string::npos) << taken.message();
  EXPECT_TRUE(registry_->ListDeployKeys("api")->empty()) << "a refused add leaves nothing behind";
  Status user_key = AddKeys("alice", {keys_[1]});
  EXPECT_TRUE(user_key.IsAlreadyExists());
  EXPECT_NE(user_key.message().find("deploy key mirror of app web"), std::string::npos) << user_key.message();
  ASSERT_TRUE(AddKeys("alice", {keys_[2]}).ok());
  EXPECT_TRUE(registry_->AddDeployKey("api", "ci", keys_[2], true).IsAlreadyExists());

  // Bad names, a missing app.
  EXPECT_EQ(registry_->AddDeployKey("web", "CI", keys_[2], true).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry_->AddDeployKey("web", "ci:x", keys_[2], true).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(registry_->AddDeployKey("nope", "ci", keys_[2], true).IsNotFound());

  // `key rm` points at `app key rm` rather than leaving a dangling entry.
  Status plain_remove = registry_->RemoveKey(keys_[0].sha256_fingerprint);
  EXPECT_EQ(plain_remove.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(plain_remove.message().find("pushgate app key rm web ci"), std::string::npos) << plain_remove.message();

  ASSERT_TRUE(registry_->RemoveDeployKey("web", "mirror").ok());
  EXPECT_TRUE(registry_->RemoveDeployKey("web", "mirror").IsNotFound());
  EXPECT_FALSE(registry_->cache().Lookup(keys_[1].sha256_fingerprint)->record);
  EXPECT_FALSE(*registry_->FindDeployKey("web", "mirror"));
  EXPECT_TRUE(*registry_->FindDeployKey("web", "ci"));

  // Removing the app removes its deploy keys, records and all; a new app of
  // the same name starts without them.
  ASSERT_TRUE(registry_->RemoveApp("web").ok());
  EXPECT_FALSE(registry_->cache().Lookup(keys_[0].sha256_fingerprint)->record);
  ASSERT_TRUE(registry_->CreateApp("web", {}).ok());
  EXPECT_TRUE(registry_->ListDeployKeys("web")->empty());
  EXPECT_FALSE(*registry_->FindDeployKey("web", "ci"));
}

TEST_F(RegistryTest, CaKeysAreTrustedOnceAndRemovedByFingerprint) {
  ASSERT_TRUE(registry_->AddCaKey(keys_[0]).ok());
  EXPECT_TRUE(registry_->AddCaKey(keys_[0]).IsAlreadyExists());
  std::vector<TrustedCa> cas = *registry_->ListCaKeys();
  ASSERT_EQ(cas.size(), 1u);
  EXPECT_EQ(cas[0].fingerprint, keys_[0].sha256_fingerprint);
  EXPECT_EQ(cas[0].key_line, keys_[0].type + " " + keys_[0].blob + " " + keys_[0].comment);
  EXPECT_TRUE(registry_->RemoveCaKey(keys_[1].sha256_fingerprint).IsNotFound());
  EXPECT_EQ(registry_->RemoveCaKey("not-a-fingerprint").code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(registry_->RemoveCaKey(keys_[0].sha256_fingerprint).ok());
  EXPECT_TRUE(registry_->ListCaKeys()->empty());
}

TEST_F(RegistryTest, PrincipalsNameOneUserAndNeverAnotherUsersName) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->AddUser("bob").ok());
  ASSERT_TRUE(registry_->AddPrincipal("alice", "alice@corp.example").ok());
  EXPECT_TRUE(registry_->AddPrincipal("bob", "alice@corp.example").IsAlreadyExists());
  // A user's own name is implicit; another user's name is theirs.
  EXPECT_TRUE(registry_->AddPrincipal("alice", "alice").IsAlreadyExists());
  EXPECT_TRUE(registry_->AddPrincipal("alice", "bob").IsAlreadyExists());
  EXPECT_EQ(registry_->AddPrincipal("alice", "-oProxy").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry_->AddPrincipal("alice", "a b").code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(registry_->AddPrincipal("carol", "ops").IsNotFound());
  // A new user may not take a name that is someone's principal.
  ASSERT_TRUE(registry_->AddPrincipal("bob", "ci").ok());
  Status taken = registry_->AddUser("ci");
  EXPECT_TRUE(taken.IsAlreadyExists());
  EXPECT_NE(taken.message().find("pushgate user principal rm bob ci"), std::string::npos) << taken.message();

  EXPECT_EQ(registry_->ListPrincipals(std::nullopt)->size(), 2u);
  std::vector<PrincipalMapping> alices = *registry_->ListPrincipals("alice");
  ASSERT_EQ(alices.size(), 1u);
  EXPECT_EQ(alices[0].principal, "alice@corp.example");
  EXPECT_TRUE(registry_->RemovePrincipal("bob", "alice@corp.example").IsNotFound());
  ASSERT_TRUE(registry_->RemovePrincipal("alice", "alice@corp.example").ok());
  // Removing a user removes their principals.
  ASSERT_TRUE(registry_->RemoveUser("bob").ok());
  EXPECT_TRUE(registry_->ListPrincipals(std::nullopt)->empty());
  EXPECT_TRUE(registry_->AddUser("ci").ok());
}

TEST_F(RegistryTest, AppsOfAUserAreTheirMemberships) {
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  ASSERT_TRUE(registry_->AddUser("bob").ok());
  ASSERT_TRUE(registry_->CreateApp("web", {"alice"}).ok());
  ASSERT_TRUE(registry_->CreateApp("api", {"alice", "bob"}).ok());
  ASSERT_TRUE(registry_->CreateApp("db", {"bob"}).ok());
  EXPECT_EQ(*registry_->AppsOf("alice"), (std::vector<std::string>{"api", "web"}));
  EXPECT_EQ(*registry_->AppsOf("carol"), std::vector<std::string>{});
}

}  // namespace
}  // namespace pushgate
