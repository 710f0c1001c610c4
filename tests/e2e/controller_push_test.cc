// End-to-end in controller mode: sshd runs pushgate-keys, which answers from
// the LMDB cache and runs pushgate-sync against a fake platform controller
// (served from this test process); pushgate-shell asks the controller before
// every push.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
    // This gateway tells a missing app from a foreign one (the others use
    // the default, one message for both).
    gateway.extra_config = std::string(kFastCache) + "[push]\ndistinguish_missing_apps = true\n";
    gateway.build_options = "keepalive = \"1s\"\n";
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
    fake_->SetBuildScript(FakeController::BuildScript());
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
  EXPECT_NE(push.output.find("-----> Building web ("), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> Compiling"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> web released as v"), std::string::npos) << push.output;
  EXPECT_GE(fake_->Requests("/v2/hooks/keys/web/alice"), 1);  // the shell's fresh check
  std::string access_check_id = fake_->LastRequestId("/v2/hooks/keys/web/alice");
  auto builds = fake_->Builds();
  ASSERT_FALSE(builds.empty());
  EXPECT_EQ(builds.back().app, "web");
  EXPECT_EQ(builds.back().username, "alice");
  EXPECT_EQ(builds.back().sha, gateway_->RemoteRef(*alice_, "web"));
  EXPECT_FALSE(builds.back().request_id.empty());
  EXPECT_EQ(builds.back().request_id_header, builds.back().request_id);
  // One id from the shell's access check through the hook to the build.
  EXPECT_EQ(access_check_id, builds.back().request_id);
  EXPECT_TRUE(fake_->HasSource(builds.back().source));
  std::string log = ReadFile(gateway_->data_dir() + "/pushgate.log");
  std::string id = "\"request_id\":\"" + builds.back().request_id + "\"";
  for (const std::string& line :
       {"\"program\":\"" + gateway_->SessionProgramName() + "\",", std::string("\"program\":\"pushgate-hook\",")}) {
    bool found = false;
    for (size_t at = log.find(line); at != std::string::npos && !found; at = log.find(line, at + 1)) {
      size_t end = log.find('\n', at);
      found = log.substr(at, end - at).find(id) != std::string::npos;
    }
    EXPECT_TRUE(found) << line << " has no line with " << id;
  }
  EXPECT_NE(log.find("\"authorize_ms\":"), std::string::npos);
}

// The controller's build log reaches the pusher while the build runs.
// The platform keeps releases and logs and knows a user's apps: the pusher
// commands say where to look instead of answering from nothing.
TEST_F(ControllerPushTest, PusherCommandsPointAtThePlatform) {
  for (const char* command : {"releases web", "logs web", "rollback web"}) {
    CapturedRun run = gateway_->Ssh(*alice_, {"127.0.0.1", command});
    EXPECT_EQ(run.status.code, 1) << command << ": " << run.output;
    EXPECT_NE(run.output.find("the releases of web are kept by the platform, not by pushgate: use the platform's "
                              "client (Workflow: deis releases -a web)"),
              std::string::npos)
        << command << ": " << run.output;
  }
  CapturedRun info = gateway_->Ssh(*alice_, {"127.0.0.1", "info --json"});
  EXPECT_EQ(info.status.code, 0) << info.output;
  EXPECT_NE(info.output.find("{\"user\":\"alice\",\"deploy_key\":null,\"key\":\"" + alice_->sha256 +
                             "\",\"apps\":null}"),
            std::string::npos)
      << info.output;
}

// Ctrl-C on git push (the client's git and ssh gone mid-build) cancels the
// build on the platform (POST /v2/hooks/builds/{id}/cancel), and the app's
// next push is not held by it.
TEST_F(ControllerPushTest, CtrlCOnThePushCancelsThePlatformsBuild) {
  FakeController::BuildScript endless;
  endless.log = {{Duration(0), "-----> compiling forever\n"}};
  endless.outcome = "";
  fake_->SetBuildScript(endless);
  WorkTree("cancel");
  size_t before = fake_->Builds().size();
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("web"), "+main"}, work_ / "cancel");
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("compiling forever")) << push->output();
  push->Kill();
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {
    std::vector<FakeController::BuildRecord> builds = fake_->Builds();
    cancelled = builds.size() == before + 1 && builds.back().cancelled;
    if (!cancelled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(cancelled) << "the build was left running on the platform";
  // The hook logs the cancel once the controller has answered it, which
  // can be just after the fake recorded it.
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = ReadFile(gateway_->data_dir() + "/pushgate.log").find("cancelled the build on the platform") !=
             std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(logged) << "the hook did not log the cancel";
}

TEST_F(ControllerPushTest, BuildLogStreamsLive) {
  FakeController::BuildScript script;
  script.log = {{Duration(0), "first line\n"}, {std::chrono::milliseconds(2500), "last line\n"}};
  fake_->SetBuildScript(script);
  WorkTree("live");
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("web"), "+main"}, work_ / "live");
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("first line")) << push->output();
  auto first_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(push->ReadUntil("last line")) << push->output();
  auto last_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(push->Finish().success()) << push->output();
  EXPECT_GE(last_at - first_at, std::chrono::seconds(2)) << "the log arrived in one piece at the end";
  EXPECT_NE(push->output().find("still building"), std::string::npos) << "no keepalive in 2.5 s of silence";
}

TEST_F(ControllerPushTest, FailedBuildRejectsThePushAndKeepsTheRef) {
  WorkTree("fail");
  ASSERT_TRUE(Push(*alice_, "fail", "web").status.success());
  std::string before = gateway_->RemoteRef(*alice_, "web");
  FakeController::BuildScript script;
  script.log = {{Duration(0), "compiling\n"}, {Duration(0), "error: missing Procfile\n"}};
  script.outcome = "failed";
  script.message = "no process types found";
  fake_->SetBuildScript(script);
  CommitFiles(work_ / "fail", {{"index.html", "broken\n"}}, "break");
  CapturedRun push = Push(*alice_, "fail", "web");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("error: missing Procfile"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("Build failed: no process types found"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("The push was rejected; web is unchanged."), std::string::npos) << push.output;
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "web"), before);
}

TEST_F(ControllerPushTest, ConflictAndQuotaRefusalsAreActionable) {
  WorkTree("busy");
  fake_->InjectFault("/v2/hooks/builds", FakeController::Fault::kConflict);
  CapturedRun busy = Push(*alice_, "busy", "web");
  EXPECT_FALSE(busy.status.success());
  EXPECT_NE(busy.output.find("Another build of web is running on the platform; wait for it to finish, then push again"),
            std::string::npos)
      << busy.output;
  fake_->InjectFault("/v2/hooks/builds", FakeController::Fault::kQuota);
  CapturedRun quota = Push(*alice_, "busy", "web");
  EXPECT_FALSE(quota.status.success());
  EXPECT_NE(quota.output.find("The build quota for web is used up: 10 builds per hour; try again in 2m"),
            std::string::npos)
      << quota.output;
}

// The log stream drops mid-line three times; the pusher sees every line
// exactly once, in order.
TEST_F(ControllerPushTest, DroppedLogStreamResumesWithoutGapsOrRepeats) {
  std::string log;
  for (int i = 0; i < 300; ++i) log += "log line " + std::to_string(i) + " of the build\n";
  FakeController::BuildScript script;
  script.log = {{Duration(0), log.substr(0, log.size() / 2)}, {std::chrono::milliseconds(500), log.substr(log.size() / 2)}};
  fake_->SetBuildScript(script);
  fake_->DropLogStreams(1234, 3);
  WorkTree("resume");
  CapturedRun push = Push(*alice_, "resume", "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  std::vector<std::string> seen;
  size_t pos = 0;
  while ((pos = push.output.find("log line ", pos)) != std::string::npos) {
    size_t end = push.output.find('\n', pos);
    std::string line = push.output.substr(pos, end - pos);
    // git pads sideband lines with spaces (to overwrite progress output).
    while (!line.empty() && line.back() == ' ') line.pop_back();
    seen.push_back(line);
    pos = end;
  }
  ASSERT_EQ(seen.size(), 300u) << push.output;
  for (int i = 0; i < 300; ++i) EXPECT_EQ(seen[i], "log line " + std::to_string(i) + " of the build");
}

// The pusher vanishes mid-build: the build stays the platform's, the hook
// lets go of the app, and the next push goes through.
TEST_F(ControllerPushTest, PusherDisconnectThenTheNextPushWorks) {
  FakeController::BuildScript hang;
  hang.log = {{Duration(0), "building forever\n"}};
  hang.outcome = "";
  fake_->SetBuildScript(hang);
  WorkTree("gone");
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("web"), "+main"}, work_ / "gone");
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("building forever")) << push->output();
  size_t builds = fake_->Builds().size();
  push->Kill();

  fake_->SetBuildScript(FakeController::BuildScript());
  auto start = std::chrono::steady_clock::now();
  CapturedRun next = Push(*alice_, "gone", "web");
  EXPECT_TRUE(next.status.success()) << next.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(fake_->Builds().size(), builds + 1);
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

TEST_F(ControllerPushTest, NonMemberIsRefusedByTheControllerAndAMissingAppIsSaidApart) {
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
  // The controller lists no apps to greet with (its contract has no such question).
  EXPECT_NE(login.output.find("Hi alice! pushgate does not provide shell access."), std::string::npos) << login.output;
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
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    CapturedRun push = Push(stranger, "scan", "web");
    EXPECT_FALSE(push.status.success());
  }
  // Five connections (ten helper calls): one lookup per negative_ttl (1 s)
  // at most, however slow the machine makes the connections.
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  int allowed = 1 + static_cast<int>(elapsed.count() / 1000);
  EXPECT_LE(fake_->Requests("/v2/hooks/key/") - before, std::min(allowed, 5)) << elapsed.count() << " ms";
}

}  // namespace
}  // namespace pushgate::testing
