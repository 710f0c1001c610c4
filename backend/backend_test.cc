#include "backend/backend.h"

#include <gtest/gtest.h>

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
  EXPECT_TRUE(backend_->Authorize("web", "alice", alice_.sha256).ok());
}

TEST_F(ControllerBackendTest, RefusalsCarryTheDocumentedMessages) {
  EXPECT_EQ(backend_->Authorize("secret", "alice", alice_.sha256).message(), "You do not have access to secret");
  EXPECT_EQ(backend_->Authorize("nope", "alice", alice_.sha256).message(), "App nope does not exist");
}

// The authenticated key must be one of the user's keys on the controller,
// compared by fingerprint: another key of the user, a revoked key, or a key
// listed with the right text in the wrong place does not count.
TEST_F(ControllerBackendTest, TheAuthenticatedKeyMustBeTheUsersKey) {
  EXPECT_EQ(backend_->Authorize("web", "alice", other_.sha256).code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(backend_->Authorize("web", "bob", alice_.sha256).code(), Status::Code::kPermissionDenied);
  fake_.RemoveKey(alice_.sha256);
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256).code(), Status::Code::kPermissionDenied);
  // Substring tricks: the blob inside a comment, or with a prefix.
  fake_.AddKey("alice", other_.type + " " + other_.blob + " " + alice_.blob);
  fake_.AddRawChange("put", alice_.sha256, "alice", "x" + alice_.public_line);
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256).code(), Status::Code::kPermissionDenied);
}

TEST_F(ControllerBackendTest, ControllerTroubleIsUnavailableNeverAnAllow) {
  for (FakeController::Fault fault : {FakeController::Fault::kServerError, FakeController::Fault::kMalformed,
                                      FakeController::Fault::kReset, FakeController::Fault::kTruncated}) {
    fake_.InjectFault("/v2/hooks/keys/web", fault);
    Status s = backend_->Authorize("web", "alice", alice_.sha256);
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << static_cast<int>(fault);
    EXPECT_EQ(s.message(), "the platform controller is unavailable, try again shortly");
  }
  fake_.InjectFault("/v2/hooks/keys/web", FakeController::Fault::kLatency, 1, std::chrono::seconds(2));
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256).code(), Status::Code::kUnavailable);
  fake_.Stop();
  EXPECT_EQ(backend_->Authorize("web", "alice", alice_.sha256).code(), Status::Code::kUnavailable);
}

TEST(OpenBackendTest, ControllerModeNeedsItsToken) {
  Config config;
  config.mode = Mode::kController;
  config.controller.url = "http://127.0.0.1:1";
  config.controller.token_file = "/nonexistent/token";
  EXPECT_FALSE(OpenBackend(config).ok());
}

}  // namespace
}  // namespace pushgate
