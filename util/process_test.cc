#include "util/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

SpawnSpec Shell(const std::string& script, std::vector<std::string> env = {}, bool killed_with_parent = false) {
  SpawnSpec spec{"/bin/sh", {"sh", "-c", script}, std::move(env), -1, -1, -1, false, ""};
  spec.killed_with_parent = killed_with_parent;
  return spec;
}

// Spawn has two ways to start a child (posix_spawn, and its own vfork-style
// clone for killed_with_parent); the basic tests run both.
class SpawnTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(ProcessTest, SpawnTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "KilledWithParent" : "PosixSpawn"; });

TEST_P(SpawnTest, ChildGetsExactlyTheGivenEnvironment) {
  Result<CapturedRun> run = RunAndCapture(Shell("env | sort", {"A=1", "B=two words"}, GetParam()));
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(run->status.success());
  // sh itself adds PWD; nothing from our environment leaks in.
  EXPECT_NE(run->output.find("A=1\n"), std::string::npos);
  EXPECT_NE(run->output.find("B=two words\n"), std::string::npos);
  EXPECT_EQ(run->output.find("HOME="), std::string::npos) << run->output;
  EXPECT_EQ(run->output.find("PATH=/"), std::string::npos) << run->output;
}

TEST_P(SpawnTest, OnlyStdioIsInherited) {
  // Not CLOEXEC on purpose, and at a number the child would never pick for
  // itself (ls reads /proc/self/fd through the lowest free descriptor).
  UniqueFd devnull(::open("/dev/null", O_RDONLY));
  UniqueFd leaked(::fcntl(devnull.get(), F_DUPFD, 100));
  ASSERT_TRUE(leaked.valid());
  Result<CapturedRun> run = RunAndCapture(Shell("ls /proc/self/fd", {}, GetParam()));
  ASSERT_TRUE(run.ok());
  EXPECT_NE(run->output.find("2\n"), std::string::npos) << run->output;
  EXPECT_EQ(run->output.find(std::to_string(leaked.get()) + "\n"), std::string::npos) << run->output;
}

// Signals the caller ignores or blocks (the programs ignore SIGPIPE, and
// block signals around the spawn itself) start at their defaults, unblocked,
// in the child; the caller's own mask is as it was.
TEST_P(SpawnTest, ChildStartsWithDefaultSignalsAndTheCallersMaskIsKept) {
  struct sigaction ignore = {}, previous_pipe = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous_pipe), 0);
  sigset_t usr2, before;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr2, &before), 0);
  // exec keeps ignored and blocked signals, so cat reports what it was given.
  SpawnSpec spec = Shell("exec cat /proc/self/status", {}, GetParam());
  Result<CapturedRun> run = RunAndCapture(spec);
  sigset_t after;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &before, &after), 0);
  ASSERT_EQ(::sigaction(SIGPIPE, &previous_pipe, nullptr), 0);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  // A mask of signals 1 to 64, signal N at bit N-1. glibc's posix_spawn
  // leaves its own internal signals (32 and 33) ignored; only the others
  // are the caller's to pass on.
  auto mask = [&](const std::string& field) -> uint64_t {
    size_t at = run->output.find(field + ":\t");
    if (at == std::string::npos) return ~uint64_t{0};
    return std::stoull(run->output.substr(at + field.size() + 2, 16), nullptr, 16);
  };
  constexpr uint64_t kGlibcInternal = (uint64_t{1} << 31) | (uint64_t{1} << 32);
  EXPECT_EQ(mask("SigBlk"), 0u) << run->output;
  EXPECT_EQ(mask("SigIgn") & ~kGlibcInternal, 0u) << run->output;
  EXPECT_EQ(sigismember(&after, SIGUSR2), 1);
  EXPECT_EQ(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
  EXPECT_EQ(sigismember(&after, SIGCHLD), sigismember(&before, SIGCHLD));
}

TEST(ProcessTest, KeptDescriptorsAndOnlyThoseReachTheChild) {
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd kept(::fcntl(devnull.get(), F_DUPFD_CLOEXEC, 100));
  UniqueFd dropped(::fcntl(devnull.get(), F_DUPFD, 110));
  SpawnSpec spec = Shell("ls /proc/self/fd");
  spec.keep_fds = {kept.get()};
  Result<CapturedRun> run = RunAndCapture(spec);
  ASSERT_TRUE(run.ok());
  EXPECT_NE(run->output.find("\n" + std::to_string(kept.get()) + "\n"), std::string::npos) << run->output;
  EXPECT_EQ(run->output.find(std::to_string(dropped.get()) + "\n"), std::string::npos) << run->output;
  spec.keep_fds = {1};
  EXPECT_FALSE(Spawn(spec).ok());
}

TEST(ProcessTest, StdinIsDevNullByDefault) {
  SpawnSpec spec = Shell("cat; echo done");
  Result<pid_t> pid = Spawn(spec);  // would hang if stdin were inherited from a terminal/pipe
  ASSERT_TRUE(pid.ok());
  Result<ExitStatus> st = WaitForExit(*pid);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->success());
}

TEST_P(SpawnTest, FeedsStdinAndReportsExitAndSignal) {
  Result<CapturedRun> run = RunAndCapture(Shell("cat; exit 3", {}, GetParam()), "hello");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->output, "hello");
  EXPECT_EQ(run->status.Describe(), "exit status 3");
  run = RunAndCapture(Shell("kill -9 $$", {}, GetParam()));
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

// A group that ends on SIGTERM is done at once; a member that ignores it is
// killed when the grace runs out; the leader's status is the one returned.
TEST(ProcessTest, StopProcessGroupTermsThenKillsWhatIsLeft) {
  SpawnSpec polite;
  polite.path = "/bin/sh";
  polite.argv = {"sh", "-c", "sleep 30 & wait"};
  polite.new_process_group = true;
  Result<pid_t> leader = Spawn(polite);
  ASSERT_TRUE(leader.ok());
  ::usleep(100000);
  EXPECT_TRUE(ProcessGroupRuns(*leader));
  ExitStatus ended = StopProcessGroup(*leader, std::chrono::seconds(10));
  EXPECT_FALSE(ProcessGroupRuns(*leader));
  EXPECT_FALSE(ended.exited);
  EXPECT_EQ(ended.signal, SIGTERM);

  SpawnSpec stubborn;
  stubborn.path = "/bin/sh";
  // The leader exits on SIGTERM; its child ignores it.
  stubborn.argv = {"sh", "-c", "(trap '' TERM; sleep 30) & wait"};
  stubborn.new_process_group = true;
  leader = Spawn(stubborn);
  ASSERT_TRUE(leader.ok());
  ::usleep(100000);
  ended = StopProcessGroup(*leader, std::chrono::milliseconds(300));
  EXPECT_FALSE(ended.exited);
  EXPECT_EQ(ended.signal, SIGTERM);
  // SIGKILL is sent; the member dies as soon as the kernel delivers it.
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = !ProcessGroupRuns(*leader);
    if (!gone) ::usleep(20000);
  }
  EXPECT_TRUE(gone) << "a member of the group outlived the grace";

  // Already reaped: the given status comes back, the rest of the group ends.
  leader = Spawn(stubborn);
  ASSERT_TRUE(leader.ok());
  ::usleep(100000);
  ExitStatus given{true, 7, 0};
  ended = StopProcessGroup(*leader, std::chrono::milliseconds(300), given);
  EXPECT_TRUE(ended.exited);
  EXPECT_EQ(ended.code, 7);
  (void)WaitForExit(*leader);
}

TEST(ProcessTest, RefusesRelativePaths) {
  SpawnSpec spec{"sh", {"sh"}, {}, -1, -1, -1, false, ""};
  EXPECT_EQ(Spawn(spec).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ExecReplacing(spec, {}).code(), Status::Code::kInvalidArgument);
}

TEST_P(SpawnTest, MissingProgramIsAnError) {
  SpawnSpec spec{"/nonexistent/prog", {"prog"}, {}, -1, -1, -1, false, ""};
  spec.killed_with_parent = GetParam();
  Result<pid_t> pid = Spawn(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find("/nonexistent/prog"), std::string::npos) << pid.status().ToString();
}

TEST_P(SpawnTest, NewProcessGroupAndWorkingDirectory) {
  SpawnSpec spec = Shell("echo $(ps -o pgid= -p $$) $$; pwd", {"PATH=/usr/bin:/bin"}, GetParam());
  spec.new_process_group = true;
  spec.cwd = "/usr";
  Result<CapturedRun> run = RunAndCapture(spec);
  ASSERT_TRUE(run.ok());
  std::istringstream out(run->output);
  std::string pgid, pid, cwd;
  out >> pgid >> pid >> cwd;
  EXPECT_EQ(pgid, pid) << run->output;
  EXPECT_EQ(cwd, "/usr");
}

// The process that spawned a killed_with_parent child dies by SIGKILL: the
// child goes with it. Without the flag it would live on (the control).
TEST(ProcessTest, KilledWithParentDiesWithItsParent) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "killed_with_parent" : "plain");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    pid_t parent = ::fork();
    if (parent == 0) {
      Result<pid_t> child = Spawn(Shell("exec sleep 30", {"PATH=/usr/bin:/bin"}, tied));
      pid_t pid = child.ok() ? *child : -1;
      (void)!::write(write_end.get(), &pid, sizeof pid);
      ::pause();
      ::_exit(0);
    }
    write_end.Reset();
    pid_t child = -1;
    ASSERT_EQ(::read(read_end.get(), &child, sizeof child), static_cast<ssize_t>(sizeof child));
    ASSERT_GT(child, 0);
    ::kill(parent, SIGKILL);
    ASSERT_TRUE(WaitForExit(parent).ok());
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = !testing::IsRunning(child);
      if (!gone) ::usleep(5000);
    }
    EXPECT_EQ(gone, tied);
    if (!gone) ::kill(child, SIGKILL);
  }
}

// The detached child is in a session of its own, its stdio are /dev/null,
// it holds none of the caller's other descriptors (here a pipe's write end
// reaches end of file while the child still runs), and it neither runs the
// caller's signal handlers nor keeps its blocked signals.
TEST(ProcessTest, RunDetachedLeavesTheSessionAndTheCallersDescriptors) {
  testing::TempDir dir;
  std::string go = dir / "go";
  std::string report = dir / "report";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto write_report = [&] {
    for (int i = 0; i < 30000 && !PathExists(go); ++i) ::usleep(1000);
    std::string out = ::getsid(0) == ::getpid() ? "own session\n" : "the caller's session\n";
    for (int fd = 0; fd <= 2; ++fd) {
      char target[64] = {};
      (void)!::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
      out += std::string(target) + "\n";
    }
    Result<std::vector<std::string>> open_fds = ListDir("/proc/self/fd");  // its own is one of them
    out += "open: " + std::to_string(open_fds.ok() ? open_fds->size() : 0) + "\n";
    std::istringstream status(testing::ReadFile("/proc/self/status"));
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0 || line.rfind("SigCgt:", 0) == 0) out += line + "\n";
    }
    (void)WriteFileAtomically(report, out, 0600);
  };
  struct sigaction handler = {}, previous_handler;
  handler.sa_handler = [](int) {};
  ASSERT_EQ(::sigaction(SIGUSR1, &handler, &previous_handler), 0);
  sigset_t usr2, previous_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr2, &previous_mask), 0);
  Status detached = RunDetached(write_report);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::sigaction(SIGUSR1, &previous_handler, nullptr);
  ASSERT_TRUE(detached.ok()) << detached.ToString();
  write_end.Reset();
  struct pollfd readable = {read_end.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 10000), 1) << "the child holds the pipe open";
  char byte;
  EXPECT_EQ(::read(read_end.get(), &byte, 1), 0);
  testing::WriteFile(go, "");
  for (int i = 0; i < 3000 && !PathExists(report); ++i) ::usleep(10000);
  EXPECT_EQ(testing::ReadFile(report),
            "own session\n/dev/null\n/dev/null\n/dev/null\nopen: 4\nSigBlk:\t0000000000000000\n"
            "SigCgt:\t0000000000000000\n");
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
