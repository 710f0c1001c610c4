#include "backend/backend.h"

#include <gtest/gtest.h>

#include "registry/registry.h"
#include "sshkey/sshkey.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"

namespace pushgate {
namespace {

using testing::FakeController;
using testing::TempDir;

class ControllerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = testing::MakeKey(dir_.path(), "alice");
    other_ = testing::MakeKey(dir_.path(), "other");
    fake_.AddKey("alice", alice_.public_line);
    fake_.AddKey("bob", testing::MakeKey(dir_.path(), "bob").public_line);
    fake_.AddApp("web", {"alice", "bob"});
    fake_.AddApp("secret", {"bob"});
    testing::WriteFile(dir_ / "token", "test-token", 0600);
    config_.mode = Mode::kController;
    config_.controller.url = fake_.url();
    config_.controller.token_file = dir_ / "token";
    config_.controller.timeout = std::chrono::seconds(1);
    backend_ = std::move(OpenBackend(config_)).value();
  }

  TempDir dir_;
  FakeController fake_;
  Config config_;
  testing::TestKey alice_, other_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(ControllerBackendTest, MemberWithTheirOwnKeyMayPush) {
  EXPECT_TRUE(backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite).ok());
}

// The contract has no "which apps are mine": the platform's CLI answers that.
TEST_F(ControllerBackendTest, ItCannotListAUsersApps) {
  EXPECT_EQ(backend_->ListAccess("alice", alice_.sha256).status().code(), Status::Code::kUnimplemented);
}

TEST_F(ControllerBackendTest, RefusalsCarryTheDocumentedMessages) {
  EXPECT_EQ(backend_->Authorize("secret", "alice", alice_.sha256, Backend::Access::kWrite).message(), "You do not have access to secret");
  EXPECT_EQ(backend_->Authorize("nope", "alice", alice_.sha256, Backend::Access::kWrite).message(), "App nope does not exist");
}

// The authenticated key must be one of the user's keys on the controller,
// compared by fingerprint: another key of the user, a revoked key, or a key
// listed with the right text in the wrong place does not count.
TEST_F(ControllerBackendTest, TheAuthenticatedKeyMustBeTheUsersKey) {
  EXPECT_EQ(backend_->Authorize("web", "alice", other_.sha256, Backend::Access::kWrite).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(backend_->Authorize("web", "bob", alice_.sha256, Backend::Access::kWrite).code(), Status::Code::kPermissionDenied);
  fake_.RemoveKey(alice_.sha256);
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite).code(), Status::Code::kPermissionDenied);
  // Substring tricks: the blob inside a comment, or with a prefix.
  fake_.AddKey("alice", other_.type + " " + other_.blob + " " + alice_.blob);
  fake_.AddRawChange("put", alice_.sha256, "alice", "x" + alice_.public_line);
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite).code(), Status::Code::kPermissionDenied);
}

TEST_F(ControllerBackendTest, ControllerTroubleIsUnavailableNeverAnAllow) {
  for (FakeController::Fault fault : {FakeController::Fault::kServerError, FakeController::Fault::kMalformed,
                                      FakeController::Fault::kReset, FakeController::Fault::kTruncated}) {
    fake_.InjectFault("/v2/hooks/keys/web", fault);
    Status s = backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite);
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << static_cast<int>(fault);
    EXPECT_EQ(s.message(), "the platform controller is unavailable, try again shortly");
  }
  fake_.InjectFault("/v2/hooks/keys/web", FakeController::Fault::kLatency, 1, std::chrono::seconds(2));
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite).code(), Status::Code::kUnavailable);
  fake_.Stop();
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite).code(), Status::Code::kUnavailable);
}

// build.driver = "workflow": a push is allowed by the stock builder's write
// check (POST /v2/hooks/config), a fetch by the key route (GET), which Drycc
// answers for viewers too; a user the key route cannot name is asked the
// write question for a fetch as well.
class WorkflowBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeController::Options options = FakeController::Stock();
    options.drycc_permissions = true;
    fake_ = std::make_unique<FakeController>(options);
    alice_ = testing::MakeKey(dir_.path(), "alice");
    viewer_ = testing::MakeKey(dir_.path(), "viewer");
    dotted_ = testing::MakeKey(dir_.path(), "dotted");
    fake_->AddKey("alice", alice_.public_line);
    fake_->AddKey("viewer", viewer_.public_line);
    fake_->AddKey("first.last", dotted_.public_line);
    fake_->AddApp("web", {"first.last"}, "alice");
    fake_->AddViewer("web", "viewer");
    testing::WriteFile(dir_ / "token", "test-token", 0600);
    config_.mode = Mode::kController;
    config_.build.driver = BuildDriver::kWorkflow;
    config_.controller.url = fake_->url();
    config_.controller.token_file = dir_ / "token";
    backend_ = std::move(OpenBackend(config_)).value();
  }
  Status Ask(const std::string& app, const std::string& user, const testing::TestKey& key, Backend::Access access) {
    return backend_->Authorize(app, user, key.sha256, access);
  }

  TempDir dir_;
  std::unique_ptr<FakeController> fake_;
  Config config_;
  testing::TestKey alice_, viewer_, dotted_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(WorkflowBackendTest, PushesAskTheWriteQuestionFetchesTheReadOne) {
  EXPECT_TRUE(Ask("web", "alice", alice_, Backend::Access::kWrite).ok());
  EXPECT_EQ(fake_->Requests("/v2/hooks/config"), 1);
  EXPECT_EQ(Ask("web", "viewer", viewer_, Backend::Access::kWrite).message(), "You do not have access to web");
  EXPECT_TRUE(Ask("web", "viewer", viewer_, Backend::Access::kRead).ok());
  EXPECT_EQ(fake_->Requests("/v2/hooks/keys/web/viewer"), 1);
  EXPECT_EQ(Ask("nope", "alice", alice_, Backend::Access::kWrite).message(), "App nope does not exist");
  EXPECT_EQ(Ask("web", "ghost", alice_, Backend::Access::kWrite).message(), "You do not have access to web");
}

TEST_F(WorkflowBackendTest, DottedUserNamesAreAskedThroughTheConfigHook) {
  int config_requests = fake_->Requests("/v2/hooks/config");
  EXPECT_TRUE(Ask("web", "first.last", dotted_, Backend::Access::kRead).ok());
  EXPECT_TRUE(Ask("web", "first.last", dotted_, Backend::Access::kWrite).ok());
  EXPECT_EQ(fake_->Requests("/v2/hooks/config"), config_requests + 2);
  EXPECT_EQ(fake_->Requests("/v2/hooks/keys/web/first"), 0);
}

TEST_F(WorkflowBackendTest, AControllerWithoutTheHooksIsMisconfiguredNeverARefusal) {
  config_.controller.url = fake_->url() + "/wrong-prefix";
  std::unique_ptr<Backend> misdirected = std::move(OpenBackend(config_)).value();
  Status write = misdirected->Authorize("web", "alice", alice_.sha256, Backend::Access::kWrite);
  EXPECT_EQ(write.code(), Status::Code::kUnimplemented) << write.ToString();
  Status read = misdirected->Authorize("web", "alice", alice_.sha256, Backend::Access::kRead);
  EXPECT_EQ(read.code(), Status::Code::kUnimplemented) << read.ToString();
}

TEST(OpenBackendTest, ControllerModeNeedsItsToken) {
  Config config;
  config.mode = Mode::kController;
  config.controller.url = "http://127.0.0.1:1";
  config.controller.token_file = "/nonexistent/token";
  Result<std::unique_ptr<Backend>> backend = OpenBackend(config);
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.status().message().find("/nonexistent/token"), std::string::npos) << backend.status().ToString();
}

class StandaloneBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = dir_.path();
    registry_ = std::move(Registry::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite)).value();
    ci_ = testing::MakeKey(dir_.path(), "ci");
    reader_ = testing::MakeKey(dir_.path(), "reader");
    ASSERT_TRUE(registry_->CreateApp("web", {}).ok());
    ASSERT_TRUE(registry_->CreateApp("api", {}).ok());
    ASSERT_TRUE(registry_->AddDeployKey("web", "ci", *ParsePublicKeyLine(ci_.public_line), true).ok());
    ASSERT_TRUE(registry_->AddDeployKey("web", "reader", *ParsePublicKeyLine(reader_.public_line), false).ok());
    backend_ = std::move(OpenBackend(config_)).value();
  }

  TempDir dir_;
  Config config_;
  std::unique_ptr<Registry> registry_;
  testing::TestKey ci_, reader_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(StandaloneBackendTest, AUsersAccessIsTheirMemberships) {
  testing::TestKey alice = testing::MakeKey(dir_.path(), "alice");
  ASSERT_TRUE(registry_->AddUser("alice").ok());
  Result<KeyImport> import = registry_->BeginKeyImport("alice");
  ASSERT_TRUE(import.ok());
  ASSERT_TRUE(import->Add(*ParsePublicKeyLine(alice.public_line)).ok());
  ASSERT_TRUE(import->Commit().ok());
  EXPECT_TRUE(backend_->ListAccess("alice", alice.sha256)->empty());
  ASSERT_TRUE(registry_->Grant("web", "alice").ok());
  ASSERT_TRUE(registry_->Grant("api", "alice").ok());
  EXPECT_EQ(*backend_->ListAccess("alice", alice.sha256),
            (std::vector<Backend::AppPermission>{{"api", true}, {"web", true}}));
  EXPECT_TRUE(backend_->ListAccess("alice", ci_.sha256)->empty()) << "not alice's key";
}

TEST_F(StandaloneBackendTest, ADeployKeyReachesOnlyItsAppAndPushesOnlyWithPush) {
  EXPECT_TRUE(backend_->Authorize("web", "deploy-key:web:ci", ci_.sha256, Backend::Access::kWrite).ok());
  EXPECT_TRUE(backend_->Authorize("web", "deploy-key:web:reader", reader_.sha256, Backend::Access::kRead).ok());
  Status push = backend_->Authorize("web", "deploy-key:web:reader", reader_.sha256, Backend::Access::kWrite);
  EXPECT_EQ(push.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(push.message(), "deploy key reader may fetch web but not push to it; ask the operator for a deploy key added with --push");
  // Another app, even one that exists; another deploy key's key; a user's name.
  EXPECT_EQ(backend_->Authorize("api", "deploy-key:web:ci", ci_.sha256, Backend::Access::kRead).message(),
            "You do not have access to api");
  EXPECT_EQ(backend_->Authorize("web", "deploy-key:web:ci", reader_.sha256, Backend::Access::kRead).code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(backend_->Authorize("web", "deploy-key:api:ci", ci_.sha256, Backend::Access::kRead).code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(*backend_->ListAccess("deploy-key:web:ci", ci_.sha256),
            (std::vector<Backend::AppPermission>{{"web", true}}));
  EXPECT_EQ(*backend_->ListAccess("deploy-key:web:reader", reader_.sha256),
            (std::vector<Backend::AppPermission>{{"web", false}}));
  EXPECT_TRUE(backend_->ListAccess("deploy-key:web:reader", ci_.sha256)->empty()) << "another key's owner";
  // Removed since sshd accepted it.
  ASSERT_TRUE(registry_->RemoveDeployKey("web", "ci").ok());
  EXPECT_TRUE(backend_->ListAccess("deploy-key:web:ci", ci_.sha256)->empty());
  EXPECT_EQ(backend_->Authorize("web", "deploy-key:web:ci", ci_.sha256, Backend::Access::kWrite).code(),
            Status::Code::kPermissionDenied);
}

}  // namespace
}  // namespace pushgate
