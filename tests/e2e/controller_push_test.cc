// End-to-end in controller mode: sshd runs pushgate-keys, which answers from
// the LMDB cache and runs pushgate-sync against a fake platform controller
// (served from this test process); pushgate-shell asks the controller before
// every push.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/e2e/gateway.h"
#include "tests/fake_controller/fake_controller.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

// Short freshness rules so refreshes happen within a test.
constexpr char kFastCache[] =
    "[cache]\n"
    "refresh_after = \"2s\"\n"
    "negative_ttl = \"1s\"\n"
    "positive_ttl = \"2s\"\n"
    "max_staleness = \"10m\"\n"
    "sync_deadline = \"3s\"\n";

class ControllerPushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Setup(true); }
  static void TearDownTestSuite() { Teardown(); }

  static void Setup(bool delta_feed) {
    keys_ = new TempDir;
    FakeController::Options options;
    options.delta_feed = delta_feed;
    fake_ = new FakeController(options);
    alice_ = new TestKey(MakeKey(keys_->path(), "alice"));
    bob_ = new TestKey(MakeKey(keys_->path(), "bob"));
    fake_->AddKey("alice", alice_->public_line);
    fake_->AddApp("web", {"alice", "bob"});
    fake_->AddApp("private", {"bob"});
    GatewayOptions gateway;
    gateway.controller_url = fake_->url();
    gateway.extra_config = kFastCache;
    gateway_ = Gateway::Start(gateway).release();
  }
  static void Teardown() {
    delete gateway_;
    delete fake_;
    delete alice_;
    delete bob_;
    delete keys_;
  }
  void SetUp() override {
    ASSERT_NE(gateway_, nullptr) << "the gateway did not start";
    fake_->Start();
  }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << gateway_->Logs();
  }

  std::string WorkTree(const std::string& name) {
    return MakeRepoWithCommit(work_ / name, {{"index.html", name + "\n"}});
  }
  CapturedRun Push(const TestKey& key, const std::string& name, const std::string& app) {
    return gateway_->Git(key, {"push", gateway_->Url(app), "+main"}, work_ / name);
  }

  static Gateway* gateway_;
  static FakeController* fake_;
  static TempDir* keys_;
  static TestKey* alice_;
  static TestKey* bob_;
  TempDir work_;
};
Gateway* ControllerPushTest::gateway_;
FakeController* ControllerPushTest::fake_;
TempDir* ControllerPushTest::keys_;
TestKey* ControllerPushTest::alice_;
TestKey* ControllerPushTest::bob_;

TEST_F(ControllerPushTest, PushDeploysWithKeysFromTheController) {
  WorkTree("one");
  CapturedRun push = Push(*alice_, "one", "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> web deployed: v"), std::string::npos) << push.output;
  EXPECT_GE(fake_->Requests("/v2/hooks/keys/web/alice"), 1);  // the shell's fresh check
}

TEST_F(ControllerPushTest, KeyAddedOnTheControllerWorksAfterARefresh) {
  WorkTree("bob");
  CapturedRun denied = Push(*bob_, "bob", "web");
  EXPECT_FALSE(denied.status.success());
  EXPECT_NE(denied.output.find("Permission denied (publickey)"), std::string::npos) << denied.output;
  fake_->AddKey("bob", bob_->public_line);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past negative_ttl
  CapturedRun push = Push(*bob_, "bob", "web");
  EXPECT_TRUE(push.status.success()) << push.output;
}

TEST_F(ControllerPushTest, NonMemberIsRefusedByTheController) {
  WorkTree("private");
  CapturedRun push = Push(*alice_, "private", "private");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("You do not have access to private"), std::string::npos) << push.output;
  CapturedRun missing = Push(*alice_, "private", "nope");
  EXPECT_NE(missing.output.find("App nope does not exist"), std::string::npos) << missing.output;
}

TEST_F(ControllerPushTest, ControllerDownWithAWarmCache) {
  WorkTree("warm");
  ASSERT_TRUE(Push(*alice_, "warm", "web").status.success());
  fake_->Stop();
  // sshd still accepts the cached key (authentication works) ...
  CapturedRun login = gateway_->Ssh(*alice_, {"127.0.0.1"});
  EXPECT_NE(login.output.find("Hi alice!"), std::string::npos) << login.output;
  // ... and the push is refused, nothing written, with the documented message.
  CommitFiles(work_ / "warm", {{"index.html", "changed\n"}}, "change");
  CapturedRun push = Push(*alice_, "warm", "web");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("the platform controller is unavailable, try again shortly"), std::string::npos)
      << push.output;
  fake_->Start();
}

TEST_F(ControllerPushTest, DeletedKeyIsRefusedAfterARefresh) {
  TestKey carol = MakeKey(keys_->path(), "carol");
  std::string fp = fake_->AddKey("carol", carol.public_line);
  fake_->AddApp("carol-app", {"carol"});
  WorkTree("carol");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_TRUE(Push(carol, "carol", "carol-app").status.success());
  fake_->RemoveKey(fp);
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // past refresh_after
  CapturedRun push = Push(carol, "carol", "carol-app");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("Permission denied (publickey)"), std::string::npos) << push.output;
}

TEST_F(ControllerPushTest, SyncOnceAndTheDaemonRunAsTheGitUser) {
  std::string sync = gateway_->prefix() + "/libexec/pushgate/pushgate-sync";
  CapturedRun once = RunCommand({"runuser", "-u", Gateway::kGitUser, "--", sync, "--config",
                                 gateway_->config_path(), "--once"});
  EXPECT_TRUE(once.status.success()) << once.output;
  EXPECT_NE(once.output.find("synced to revision " + std::to_string(fake_->revision())), std::string::npos)
      << once.output;
  CapturedRun as_root = RunCommand({sync, "--config", gateway_->config_path(), "--once"});
  EXPECT_EQ(as_root.status.code, 2);
  EXPECT_NE(as_root.output.find("not as root"), std::string::npos);

  // setpriv switches user and execs, so the signal reaches the daemon itself.
  SpawnSpec daemon{"/usr/bin/setpriv",
                   {"setpriv", std::string("--reuid=") + Gateway::kGitUser, std::string("--regid=") + Gateway::kGitUser,
                    "--init-groups", sync, "--config", gateway_->config_path(), "--daemon"},
                   {"PATH=/usr/bin:/bin"}, -1, -1, -1, false, ""};
  Result<pid_t> pid = Spawn(daemon);
  ASSERT_TRUE(pid.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(*pid, SIGTERM);
  Result<std::optional<ExitStatus>> done = WaitForExitUntil(*pid, std::chrono::seconds(10));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value()) << "the daemon did not stop on SIGTERM";
  EXPECT_TRUE((*done)->success()) << (*done)->Describe();
}

// A controller without pushgate's delta feed: keys are looked up one by one
// by MD5 fingerprint, and unknown keys are remembered for negative_ttl.
class LookupModePushTest : public ControllerPushTest {
 protected:
  static void SetUpTestSuite() { Setup(false); }
  static void TearDownTestSuite() { Teardown(); }
};

TEST_F(LookupModePushTest, PushWorksThroughPerKeyLookups) {
  WorkTree("lookup");
  CapturedRun push = Push(*alice_, "lookup", "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_GE(fake_->Requests("/v2/hooks/key/"), 1);
  EXPECT_EQ(fake_->Requests("/v2/hooks/keys?"), 0);
}

TEST_F(LookupModePushTest, UnknownKeysDoNotHammerTheController) {
  // Warm up so the cache knows the controller has no feed.
  WorkTree("scan");
  ASSERT_TRUE(Push(*alice_, "scan", "web").status.success());
  TestKey stranger = MakeKey(keys_->path(), "stranger");
  int before = fake_->Requests("/v2/hooks/key/");
  for (int i = 0; i < 5; ++i) {
    CapturedRun push = Push(stranger, "scan", "web");
    EXPECT_FALSE(push.status.success());
  }
  // Five connections (ten helper calls) within negative_ttl: one lookup.
  EXPECT_LE(fake_->Requests("/v2/hooks/key/") - before, 2);
}

}  // namespace
}  // namespace pushgate::testing
