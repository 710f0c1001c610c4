#include "receive-hook/remote_build.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "source-archive/sha256.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fd.h"

namespace pushgate {
namespace {

using testing::FakeController;
using Outcome = RemoteBuildResult::Outcome;
using Script = FakeController::BuildScript;
using std::chrono::milliseconds;

// Numbered lines, so a repeated or missing byte shows.
std::string NumberedLines(int count, size_t width) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    std::string line = "line " + std::to_string(i) + " ";
    line.resize(width, 'x');
    out += line + "\n";
  }
  return out;
}

class RemoteBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.AddApp("web", {"alice"});
    testing::WriteFile(dir_ / "token", "test-token\n", 0600);
    testing::WriteFile(dir_ / "src.tar.gz", "pretend this is a tar.gz");
    ControllerConfig config;
    config.url = fake_.url();
    config.token_file = dir_ / "token";
    controller_ = std::move(ControllerClient::Create(config)).value();
    controller_->set_request_id("req-7");
    log_.Reset(::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  }

  RemoteBuildResult Build(Duration timeout = std::chrono::seconds(30), Duration keepalive = std::chrono::seconds(20),
                          int session_fd = -1, const std::atomic<bool>* cancel = nullptr,
                          bool distinguish_missing_apps = false) {
    LogRelay relay(log_.get(), session_fd, keepalive);
    RemoteBuildRequest request;
    request.controller = controller_.get();
    request.spec = BuildSpec{"web", "alice", std::string(40, 'c'), "refs/heads/main", "", "req-7", {}};
    request.archive_path = dir_ / "src.tar.gz";
    request.archive_sha256 = Sha256OfFile(request.archive_path).value();
    request.timeout = timeout;
    request.relay = &relay;
    request.cancel = cancel;
    request.distinguish_missing_apps = distinguish_missing_apps;
    request.retry_initial = milliseconds(50);
    request.retry_max = milliseconds(200);
    return RunRemoteBuild(request);
  }
  std::string Log() { return testing::ReadFile(dir_ / "log"); }

  testing::TempDir dir_;
  FakeController fake_;
  std::unique_ptr<ControllerClient> controller_;
  UniqueFd log_;
};

TEST_F(RemoteBuildTest, UploadsOnceBuildsAndRelaysTheLog) {
  Script script;
  script.log = {{Duration(0), "-----> Compiling\n"}, {milliseconds(200), "       done\n"}};
  fake_.SetBuildScript(script);
  RemoteBuildResult r = Build();
  EXPECT_EQ(r.outcome, Outcome::kSucceeded) << r.message;
  EXPECT_EQ(r.release_version, 1);
  EXPECT_EQ(Log(), "-----> Compiling\n       done\n");
  EXPECT_EQ(fake_.SourceUploads(), 1);
  std::string digest = "sha256:" + Sha256OfFile(dir_ / "src.tar.gz").value();
  EXPECT_EQ(fake_.Source(digest), "pretend this is a tar.gz");
  auto builds = fake_.Builds();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].source, digest);
  EXPECT_EQ(builds[0].sha, std::string(40, 'c'));
  EXPECT_EQ(builds[0].request_id_header, "req-7");

  // The same source again: no second upload.
  RemoteBuildResult again = Build();
  EXPECT_EQ(again.outcome, Outcome::kSucceeded);
  EXPECT_EQ(again.release_version, 2);
  EXPECT_EQ(fake_.SourceUploads(), 1);
  EXPECT_EQ(fake_.Builds().size(), 2u);
}

TEST_F(RemoteBuildTest, FailedAndCancelledBuildsCarryTheMessage) {
  Script script;
  script.log = {{Duration(0), "error: no Procfile\n"}};
  script.outcome = "failed";
  script.message = "buildpack detection failed";
  fake_.SetBuildScript(script);
  RemoteBuildResult failed = Build();
  EXPECT_EQ(failed.outcome, Outcome::kFailed);
  EXPECT_EQ(failed.message, "buildpack detection failed");
  EXPECT_FALSE(failed.release_version.has_value());
  EXPECT_EQ(Log(), "error: no Procfile\n");

  script.outcome = "cancelled";
  script.message = "";
  fake_.SetBuildScript(script);
  RemoteBuildResult cancelled = Build();
  EXPECT_EQ(cancelled.outcome, Outcome::kFailed);
  EXPECT_EQ(cancelled.message, "the platform cancelled the build");
}

TEST_F(RemoteBuildTest, ConflictAndQuotaAreClearRefusals) {
  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kConflict);
  RemoteBuildResult busy = Build();
  EXPECT_EQ(busy.outcome, Outcome::kRefused);
  EXPECT_EQ(busy.message.rfind("Another build of web is running on the platform; wait for it to finish, then push "
                               "again",
                               0),
            0u)
      << busy.message;

  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kQuota);
  RemoteBuildResult quota = Build();
  EXPECT_EQ(quota.outcome, Outcome::kRefused);
  EXPECT_EQ(quota.message, "The build quota for web is used up: 10 builds per hour; try again in 2m");
  EXPECT_TRUE(fake_.Builds().empty());
}

TEST_F(RemoteBuildTest, AppGoneOrAccessRevokedBetweenCheckAndBuild) {
  // By default both get the same words, and the controller's own (which
  // could tell them apart) stay in the log.
  fake_.AddApp("web", {"bob"});
  RemoteBuildResult forbidden = Build();
  EXPECT_EQ(forbidden.outcome, Outcome::kRefused);
  EXPECT_EQ(forbidden.message, "App web does not exist or you do not have access to it");
  RemoteBuildResult forbidden_told = Build(std::chrono::seconds(30), std::chrono::seconds(20), -1, nullptr, true);
  EXPECT_EQ(forbidden_told.message.rfind("You do not have access to web: ", 0), 0u) << forbidden_told.message;
  fake_.RemoveApp("web");
  RemoteBuildResult gone = Build();
  EXPECT_EQ(gone.outcome, Outcome::kRefused);
  EXPECT_EQ(gone.message, "App web does not exist or you do not have access to it");
  RemoteBuildResult gone_told = Build(std::chrono::seconds(30), std::chrono::seconds(20), -1, nullptr, true);
  EXPECT_EQ(gone_told.message.rfind("App web does not exist: ", 0), 0u) << gone_told.message;
  EXPECT_TRUE(fake_.Builds().empty());
}

TEST_F(RemoteBuildTest, ControllerDownBeforeTheUploadChangesNothing) {
  fake_.Stop();
  RemoteBuildResult r = Build();
  EXPECT_EQ(r.outcome, Outcome::kUnavailable);
  fake_.Start();
  EXPECT_EQ(fake_.SourceUploads(), 0);
  EXPECT_TRUE(fake_.Builds().empty());
  fake_.InjectFault("/v2/hooks/builds", FakeController::Fault::kServerError);
  EXPECT_EQ(Build().outcome, Outcome::kUnavailable);
  EXPECT_TRUE(fake_.Builds().empty());
}

TEST_F(RemoteBuildTest, DroppedStreamsResumeWithoutRepeatingOrLosingAByte) {
  Script script;
  std::string first = NumberedLines(200, 60), second = NumberedLines(100, 33);
  script.log = {{Duration(0), first}, {milliseconds(300), second}};
  fake_.SetBuildScript(script);
  fake_.DropLogStreams(1001, 5);  // mid-line, five times in a row
  fake_.InjectFault("/v2/hooks/builds/b-1/logs", FakeController::Fault::kServerError, 2);
  RemoteBuildResult r = Build();
  EXPECT_EQ(r.outcome, Outcome::kSucceeded) << r.message;
  EXPECT_EQ(Log(), first + second);
  EXPECT_GE(fake_.Requests("/v2/hooks/builds/b-1/logs"), 8);
}

// A proxy ends the stream properly but early, after the build has finished:
// the rest of the log is still fetched.
TEST_F(RemoteBuildTest, CleanlyCutStreamAfterTheBuildEndedLosesNothing) {
  Script script;
  std::string log = NumberedLines(100, 40);
  script.log = {{Duration(0), log}};
  fake_.SetBuildScript(script);
  fake_.DropLogStreams(1000, 1, true);
  RemoteBuildResult r = Build();
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(Log(), log);
}

// ... and if that last read fails, the known outcome is not held back.
TEST_F(RemoteBuildTest, KnownOutcomeIsNotHeldForALogTailThatCannotBeRead) {
  Script script;
  script.log = {{Duration(0), NumberedLines(100, 40)}};
  fake_.SetBuildScript(script);
  fake_.DropLogStreams(1000, 1, true);
  fake_.FailResumedLogStreams(1000);
  RemoteBuildResult r = Build(std::chrono::seconds(10));  // retrying instead would end in kTimedOut
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(Log().size(), 1000u);
}

TEST_F(RemoteBuildTest, TenMegabytesOfLogArriveIntact) {
  Script script;
  std::string big = NumberedLines(100000, 100);
  script.log = {{Duration(0), big}};
  fake_.SetBuildScript(script);
  RemoteBuildResult r = Build();
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  EXPECT_EQ(Log().size(), big.size());
  EXPECT_TRUE(Log() == big);
}

TEST_F(RemoteBuildTest, SilentBuildGetsKeepalives) {
  Script script;
  script.log = {{Duration(0), "starting\n"}, {milliseconds(1300), "finished\n"}};
  fake_.SetBuildScript(script);
  RemoteBuildResult r = Build(std::chrono::seconds(30), milliseconds(300));
  EXPECT_EQ(r.outcome, Outcome::kSucceeded);
  std::string log = Log();
  EXPECT_EQ(log.rfind("starting\n       ... still building (", 0), 0u) << log;
  EXPECT_NE(log.find(")\nfinished\n"), std::string::npos) << log;
}

TEST_F(RemoteBuildTest, GivesUpAfterTheTimeoutAndCancelsTheBuild) {
  Script script;
  script.log = {{Duration(0), "working\n"}};
  script.outcome = "";  // never ends
  fake_.SetBuildScript(script);
  auto start = std::chrono::steady_clock::now();
  RemoteBuildResult r = Build(milliseconds(800));
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.build_id, "b-1");
  EXPECT_EQ(Log(), "working\n");
  EXPECT_TRUE(r.cancelled_on_platform);
  EXPECT_TRUE(fake_.Builds().at(0).cancelled);
}

// A stock controller has no cancel route: the build goes on, as before.
TEST_F(RemoteBuildTest, AControllerThatCannotCancelLeavesTheBuildRunning) {
  Script script;
  script.outcome = "";
  fake_.SetBuildScript(script);
  fake_.RemoveCancelRoute();
  RemoteBuildResult r = Build(milliseconds(500));
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_FALSE(r.cancelled_on_platform);
  EXPECT_FALSE(fake_.Builds().at(0).cancelled);
}

TEST_F(RemoteBuildTest, ABuildThatEndedIsNotCancelled) {
  ASSERT_TRUE(Build().outcome == Outcome::kSucceeded);
  EXPECT_TRUE(controller_->CancelBuild("b-1").IsAlreadyExists());
  EXPECT_TRUE(controller_->CancelBuild("b-nope").IsNotFound());
  EXPECT_EQ(controller_->CancelBuild("../x").code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(fake_.Builds().at(0).cancelled);
}

// Ctrl-C on git push: the pusher's session closes, and the build stops.
TEST_F(RemoteBuildTest, PusherDisconnectCancelsTheBuild) {
  Script script;
  script.outcome = "";
  fake_.SetBuildScript(script);
  int session[2];
  ASSERT_EQ(::pipe(session), 0);
  UniqueFd sshd_end(session[0]), our_end(session[1]);
  std::thread disconnect([&] {
    std::this_thread::sleep_for(milliseconds(300));
    sshd_end.Reset();
  });
  auto start = std::chrono::steady_clock::now();
  RemoteBuildResult r = Build(std::chrono::seconds(30), std::chrono::seconds(20), our_end.get());
  disconnect.join();
  EXPECT_EQ(r.outcome, Outcome::kPusherGone);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(fake_.Builds().size(), 1u);
  EXPECT_TRUE(r.cancelled_on_platform);
  EXPECT_TRUE(fake_.Builds().at(0).cancelled);
}

TEST_F(RemoteBuildTest, SignalInterruptsTheWait) {
  Script script;
  script.outcome = "";
  fake_.SetBuildScript(script);
  std::atomic<bool> cancel{false};
  std::thread signal([&] {
    std::this_thread::sleep_for(milliseconds(300));
    cancel = true;
  });
  RemoteBuildResult r = Build(std::chrono::seconds(30), std::chrono::seconds(20), -1, &cancel);
  signal.join();
  EXPECT_EQ(r.outcome, Outcome::kInterrupted);
  EXPECT_TRUE(r.cancelled_on_platform);
}

}  // namespace
}  // namespace pushgate
