#include "receive-hook/build_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::IsRunning;
using testing::TempDir;

class BuildRunnerTest : public ::testing::Test {
 protected:
  BuildResult Run(const std::string& script, Duration timeout = std::chrono::seconds(30),
                  const std::atomic<bool>* cancel = nullptr, Duration keepalive = std::chrono::seconds(20)) {
    UniqueFd log(::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    LogRelay relay(log.get(), -1, keepalive);
    BuildRequest request;
    request.command = SpawnSpec{"/bin/sh", {"sh", "-c", script}, {"PATH=/usr/bin:/bin", "X=1"}, -1, -1, -1, false, ""};
    request.timeout = timeout;
    request.relay = &relay;
    request.kill_grace = std::chrono::milliseconds(500);
    request.cancel = cancel;
    Result<BuildResult> result = RunBuild(request);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : BuildResult{};
  }
  std::string Log() { return testing::ReadFile(dir_ / "log"); }

  TempDir dir_;
};

TEST_F(BuildRunnerTest, SuccessRelaysStdoutAndStderrInOrder) {
  BuildResult r = Run("echo one; echo two >&2; printf 'partial'; echo $X");
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kSucceeded);
  EXPECT_EQ(Log(), "one\ntwo\npartial1\n");
}

TEST_F(BuildRunnerTest, FailureCarriesTheExitStatus) {
  BuildResult r = Run("echo building; exit 7");
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kFailed);
  EXPECT_EQ(r.exit.Describe(), "exit status 7");
  EXPECT_EQ(Log(), "building\n");
}

TEST_F(BuildRunnerTest, DeathBySignalIsAFailure) {
  BuildResult r = Run("kill -9 $$");
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kFailed);
  EXPECT_EQ(r.exit.signal, 9);
}

TEST_F(BuildRunnerTest, TimeoutStopsTheWholeProcessGroup) {
  std::string pidfile = dir_ / "grandchild.pid";
  auto start = std::chrono::steady_clock::now();
  BuildResult r = Run("sleep 60 & echo $! > " + pidfile + "; echo started; wait", std::chrono::milliseconds(500));
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Log(), "started\n");
  pid_t grandchild = std::stoi(testing::ReadFile(pidfile));
  ::usleep(100000);
  EXPECT_FALSE(IsRunning(grandchild)) << "the build's background process survived";
}

TEST_F(BuildRunnerTest, ProcessesLeftBehindAreStopped) {
  std::string pidfile = dir_ / "daemon.pid";
  BuildResult r = Run("(sleep 60 & echo $! > " + pidfile + ") ; echo done");
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kSucceeded);
  pid_t daemon = std::stoi(testing::ReadFile(pidfile));
  ::usleep(100000);
  EXPECT_FALSE(IsRunning(daemon)) << "a process the build left behind survived";
}

// A hook killed with SIGKILL (the OOM killer, kill -9) cannot stop its build;
// the kernel must, or the build would deploy a push git refused, racing the
// next push's deploy. The build's main process dies with the hook, so the
// rest of its script never runs.
TEST_F(BuildRunnerTest, BuildDiesWithAKilledHook) {
  std::string marker = dir_ / "deployed";
  std::string pidfile = dir_ / "build.pid";
  pid_t hook = ::fork();
  if (hook == 0) {
    Run("echo $$ > " + pidfile + "; sleep 2; touch " + marker);
    ::_exit(0);
  }
  Result<std::string> pid = Status::NotFound("");
  for (int i = 0; i < 500 && !(pid.ok() && pid->find('\n') != std::string::npos); ++i) {
    ::usleep(10000);
    pid = ReadSmallFile(pidfile);
  }
  ::kill(hook, SIGKILL);
  ASSERT_TRUE(WaitForExit(hook).ok());
  ASSERT_TRUE(pid.ok()) << "the build did not start";
  pid_t build = std::stoi(*pid);
  for (int i = 0; i < 100 && IsRunning(build); ++i) ::usleep(10000);
  EXPECT_FALSE(IsRunning(build)) << "the build outlived its hook by a second";
  ::usleep(2000000);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the orphaned build went on";
}

TEST_F(BuildRunnerTest, CancelStopsTheBuild) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  BuildResult r = Run("echo working; sleep 60", std::chrono::seconds(60), &cancel);
  canceller.join();
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kCancelled);
}

TEST_F(BuildRunnerTest, LostPusherStopsTheBuild) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // nobody will ever read the log
  ::signal(SIGPIPE, SIG_IGN);
  BuildRequest request;
  request.command =
      SpawnSpec{"/bin/sh", {"sh", "-c", "while true; do echo tick; sleep 0.05; done"}, {}, -1, -1, -1, false, ""};
  request.timeout = std::chrono::seconds(30);
  LogRelay relay(fds[1], -1, std::chrono::seconds(20));
  request.relay = &relay;
  Result<BuildResult> r = RunBuild(request);
  ::close(fds[1]);
  ::signal(SIGPIPE, SIG_DFL);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, BuildResult::Outcome::kOutputLost);
}

// A pusher whose client stopped reading fills the pipe to git: the build's
// clock must keep running (it used to block in write(2) until the client
// read again), and output that does not fit is dropped, not waited for.
TEST_F(BuildRunnerTest, TimeoutHoldsWhileThePusherDoesNotRead) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd never_read(fds[0]), out(fds[1]);
  BuildRequest request;
  request.command = SpawnSpec{"/bin/sh", {"sh", "-c", "while true; do echo 'a line of build output'; done"},
                              {}, -1, -1, -1, false, ""};
  request.timeout = std::chrono::seconds(1);
  request.kill_grace = std::chrono::milliseconds(500);
  LogRelay relay(out.get(), -1, std::chrono::seconds(20));
  request.relay = &relay;
  std::promise<Result<BuildResult>> done;
  std::thread runner([&] { done.set_value(RunBuild(request)); });
  std::future<Result<BuildResult>> result = done.get_future();
  // A liveness bound, not a measurement: blocked, it would never return.
  ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "RunBuild blocked";
  runner.join();
  Result<BuildResult> r = result.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, BuildResult::Outcome::kTimedOut);
  EXPECT_GT(relay.dropped_bytes(), 0u);
  EXPECT_LE(relay.relayed_bytes(), 2 * LogRelay::kMaxPending);
}

// git-receive-pack keeps relaying into a dead channel without telling its
// hook; the session channel's far end closing is how the hook finds out.
TEST_F(BuildRunnerTest, ClosedSessionChannelStopsTheBuild) {
  int session[2];
  ASSERT_EQ(::pipe(session), 0);
  UniqueFd sshd_end(session[0]), our_end(session[1]);
  UniqueFd log(::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  BuildRequest request;
  request.command = SpawnSpec{"/bin/sh", {"sh", "-c", "echo working; sleep 60"}, {}, -1, -1, -1, false, ""};
  request.timeout = std::chrono::seconds(60);
  LogRelay relay(log.get(), our_end.get(), std::chrono::seconds(20));
  request.relay = &relay;
  std::thread disconnect([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sshd_end.Reset();
  });
  auto start = std::chrono::steady_clock::now();
  Result<BuildResult> r = RunBuild(request);
  disconnect.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, BuildResult::Outcome::kOutputLost);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(BuildRunnerTest, OpenSessionChannelDoesNotDisturbTheBuild) {
  int session[2];
  ASSERT_EQ(::pipe(session), 0);
  UniqueFd sshd_end(session[0]), our_end(session[1]);
  UniqueFd log(::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  BuildRequest request;
  request.command = SpawnSpec{"/bin/sh", {"sh", "-c", "sleep 0.5; echo done"}, {}, -1, -1, -1, false, ""};
  request.timeout = std::chrono::seconds(60);
  LogRelay relay(log.get(), our_end.get(), std::chrono::seconds(20));
  request.relay = &relay;
  Result<BuildResult> r = RunBuild(request);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, BuildResult::Outcome::kSucceeded);
  EXPECT_EQ(Log(), "done\n");
}

TEST_F(BuildRunnerTest, SilentBuildGetsKeepaliveLinesOnTheirOwnLine) {
  BuildResult r = Run("printf 'step 1'; sleep 1.3; echo ' done'", std::chrono::seconds(30), nullptr,
                      std::chrono::milliseconds(400));
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kSucceeded);
  std::string log = Log();
  EXPECT_EQ(log.rfind("step 1\n       ... still building (", 0), 0u) << log;
  EXPECT_NE(log.find(")\n done\n"), std::string::npos) << log;
}

TEST_F(BuildRunnerTest, ChattyBuildGetsNoKeepalive) {
  BuildResult r = Run("for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done", std::chrono::seconds(30), nullptr,
                      std::chrono::milliseconds(400));
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kSucceeded);
  EXPECT_EQ(Log(), "1\n2\n3\n4\n5\n6\n");
}

TEST_F(BuildRunnerTest, BuildGetsNoStdin) {
  BuildResult r = Run("cat; echo eof");
  EXPECT_EQ(r.outcome, BuildResult::Outcome::kSucceeded);
  EXPECT_EQ(Log(), "eof\n");
}

}  // namespace
}  // namespace pushgate
