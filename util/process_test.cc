#include "util/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/testing/testing.h"
#include "util/fd.h"

namespace pushgate {
namespace {

SpawnSpec Shell(const std::string& script, std::vector<std::string> env = {}) {
  return SpawnSpec{"/bin/sh", {"sh", "-c", script}, std::move(env), -1, -1, -1, false, ""};
}

TEST(ProcessTest, ChildGetsExactlyTheGivenEnvironment) {
  Result<CapturedRun> run = RunAndCapture(Shell("env | sort", {"A=1", "B=two words"}));
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(run->status.success());
  // sh itself adds PWD; nothing from our environment leaks in.
  EXPECT_NE(run->output.find("A=1\n"), std::string::npos);
  EXPECT_NE(run->output.find("B=two words\n"), std::string::npos);
  EXPECT_EQ(run->output.find("HOME="), std::string::npos) << run->output;
  EXPECT_EQ(run->output.find("PATH=/"), std::string::npos) << run->output;
}

TEST(ProcessTest, OnlyStdioIsInherited) {
  // Not CLOEXEC on purpose, and at a number the child would never pick for
  // itself (ls reads /proc/self/fd through the lowest free descriptor).
  UniqueFd devnull(::open("/dev/null", O_RDONLY));
  UniqueFd leaked(::fcntl(devnull.get(), F_DUPFD, 100));
  ASSERT_TRUE(leaked.valid());
  Result<CapturedRun> run = RunAndCapture(Shell("ls /proc/self/fd"));
  ASSERT_TRUE(run.ok());
  EXPECT_NE(run->output.find("2\n"), std::string::npos) << run->output;
  EXPECT_EQ(run->output.find(std::to_string(leaked.get()) + "\n"), std::string::npos) << run->output;
}

TEST(ProcessTest, StdinIsDevNullByDefault) {
  SpawnSpec spec = Shell("cat; echo done");
  Result<pid_t> pid = Spawn(spec);  // would hang if stdin were inherited from a terminal/pipe
  ASSERT_TRUE(pid.ok());
  Result<ExitStatus> st = WaitForExit(*pid);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->success());
}

TEST(ProcessTest, FeedsStdinAndReportsExitAndSignal) {
  Result<CapturedRun> run = RunAndCapture(Shell("cat; exit 3"), "hello");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->output, "hello");
  EXPECT_EQ(run->status.Describe(), "exit status 3");
  run = RunAndCapture(Shell("kill -9 $$"));
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(run->status.exited);
  EXPECT_EQ(run->status.signal, 9);
}

TEST(ProcessTest, ChildThatIgnoresStdinDoesNotKillTheCaller) {
  // Writing a large stdin to a child that exits at once raises SIGPIPE;
  // RunAndCapture must absorb it.
  Result<CapturedRun> run = RunAndCapture(Shell("exit 0"), std::string(4 << 20, 'x'));
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(run->status.success());
}

TEST(ProcessTest, WaitForExitUntilReturnsEarlyOrLeavesItRunning) {
  Result<pid_t> quick = Spawn(Shell("exit 4"));
  ASSERT_TRUE(quick.ok());
  Result<std::optional<ExitStatus>> done = WaitForExitUntil(*quick, std::chrono::seconds(10));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->code, 4);

  Result<pid_t> slow = Spawn(Shell("sleep 1"));
  ASSERT_TRUE(slow.ok());
  auto start = std::chrono::steady_clock::now();
  Result<std::optional<ExitStatus>> pending = WaitForExitUntil(*slow, std::chrono::milliseconds(100));
  ASSERT_TRUE(pending.ok());
  EXPECT_FALSE(pending->has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_TRUE(WaitForExit(*slow)->success());  // it was left running, not killed
}

TEST(ProcessTest, RefusesRelativePaths) {
  SpawnSpec spec{"sh", {"sh"}, {}, -1, -1, -1, false, ""};
  EXPECT_EQ(Spawn(spec).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ExecReplacing(spec, {}).code(), Status::Code::kInvalidArgument);
}

TEST(ProcessTest, MissingProgramIsAnError) {
  SpawnSpec spec{"/nonexistent/prog", {"prog"}, {}, -1, -1, -1, false, ""};
  EXPECT_FALSE(Spawn(spec).ok());
}

TEST(ProcessTest, FindSystemProgramIgnoresPath) {
  Result<std::string> git = FindSystemProgram("sh");
  ASSERT_TRUE(git.ok());
  EXPECT_EQ(git->front(), '/');
  EXPECT_FALSE(FindSystemProgram("definitely-not-a-program-xyz").ok());
}

TEST(ProcessTest, SetEnvReplaces) {
  std::vector<std::string> env = {"A=1", "AB=2"};
  SetEnv(env, "A", "3");
  SetEnv(env, "C", "4");
  EXPECT_EQ(env, (std::vector<std::string>{"A=3", "AB=2", "C=4"}));
}

}  // namespace
}  // namespace pushgate
