#include "session/session_relay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate {
namespace {

// The ssh session as a test sees it: three pipes, the far ends ours.
struct FakeSession {
  FakeSession() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    session.in = p[0];
    client_in.Reset(p[1]);
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    client_out.Reset(p[0]);
    session.out = p[1];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    client_err.Reset(p[0]);
    session.err = p[1];
    relay_in.Reset(session.in);
    relay_out.Reset(session.out);
    relay_err.Reset(session.err);
  }
  // Everything the client was sent on `fd` until it closes.
  static std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  SessionFds session;
  UniqueFd relay_in, relay_out, relay_err;     // the relay's ends
  UniqueFd client_in, client_out, client_err;  // the client's ends
};

SpawnSpec Shell(const std::string& script) {
  return SpawnSpec{"/bin/sh", {"sh", "-c", script}, {"PATH=/usr/bin:/bin"}, -1, -1, -1, false, ""};
}

SessionRelayOptions Options(Duration idle) {
  SessionRelayOptions options;
  options.idle_timeout = idle;
  options.kill_grace = std::chrono::milliseconds(500);
  options.final_flush = std::chrono::seconds(2);
  return options;
}

// Runs the relay on a thread; the test plays the client meanwhile.
std::future<Result<SessionRelayResult>> Start(FakeSession& s, SpawnSpec spec, SessionRelayOptions options,
                                              std::vector<UniqueFd> handed = {}) {
  return std::async(std::launch::async, [&s, spec = std::move(spec), options, h = std::move(handed)]() mutable {
    Result<SessionRelayResult> r = RunSessionRelay(std::move(spec), std::move(h), s.session, options);
    // As the shell exits, its ends close.
    s.relay_in.Reset();
    s.relay_out.Reset();
    s.relay_err.Reset();
    return r;
  });
}

Result<SessionRelayResult> Finish(std::future<Result<SessionRelayResult>>& f) {
  // A liveness bound, not a measurement: a stuck relay fails here.
  if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "the relay did not return";
    std::abort();
  }
  return f.get();
}

TEST(SessionRelayTest, CopiesEachWayAndEndsWithGitsExitStatus) {
  FakeSession s;
  auto relay = Start(s, Shell("cat; echo to-stderr >&2; exit 3"), Options(std::chrono::seconds(30)));
  std::string sent(300 * 1024, 'p');  // more than any pipe or buffer holds at once
  std::thread client([&] {
    ASSERT_TRUE(WriteAll(s.client_in.get(), sent).ok());
    s.client_in.Reset();
  });
  std::string out = FakeSession::ReadAll(s.client_out.get());
  std::string err = FakeSession::ReadAll(s.client_err.get());
  client.join();
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kExited);
  EXPECT_EQ(r->exit.Describe(), "exit status 3");
  EXPECT_EQ(out, sent);
  EXPECT_EQ(err, "to-stderr\n");
}

// A client that opened receive-pack and then sends nothing: the session
// ends after the idle timeout and takes git's whole process group (and the
// lock it holds) with it.
TEST(SessionRelayTest, AnIdleSessionIsEndedAndTheLockFreed) {
  FakeSession s;
  testing::TempDir dir;
  std::string lock_path = dir / "app.lock";
  Result<FileLock> lock = FileLock::TryAcquire(lock_path);
  ASSERT_TRUE(lock.ok());
  std::vector<UniqueFd> handed;
  handed.push_back(std::move(lock).value().Release());
  // git-receive-pack and a child of its own, both waiting for the client.
  auto relay = Start(s, Shell("sleep 300 & cat; wait"), Options(std::chrono::milliseconds(500)), std::move(handed));
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kIdle);
  EXPECT_FALSE(*FileLock::IsHeld(lock_path)) << "git's process group outlived the session";
}

TEST(SessionRelayTest, TrafficKeepsTheSessionAlive) {
  FakeSession s;
  auto relay = Start(s, Shell("for i in 1 2 3 4 5 6 7 8 9 10; do echo keepalive; sleep 0.2; done"),
                     Options(std::chrono::milliseconds(800)));
  std::string out = FakeSession::ReadAll(s.client_out.get());
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kExited);
  EXPECT_TRUE(r->exit.success());
  EXPECT_EQ(out.size(), 10 * std::string("keepalive\n").size());
}

TEST(SessionRelayTest, AClientThatDisconnectsEndsTheSession) {
  FakeSession s;
  auto relay = Start(s, Shell("while :; do echo progress; sleep 0.1; done"), Options(std::chrono::minutes(10)));
  char buf[16];
  ASSERT_GT(::read(s.client_out.get(), buf, sizeof buf), 0);
  s.client_out.Reset();  // the connection is gone
  s.client_err.Reset();
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kClientGone);
}

// A client that stops reading: once every buffer is full nothing moves, and
// the idle timeout ends the session instead of leaving git blocked.
TEST(SessionRelayTest, AClientThatStopsReadingIsEndedAsIdle) {
  FakeSession s;
  auto relay = Start(s, Shell("yes 'build output'"), Options(std::chrono::milliseconds(500)));
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kIdle);
}

// Once the client has sent everything (git push does, then waits for the
// report while the hook builds), its side of the session stays hung up: the
// relay must sleep until git speaks, not wake on that hang-up again and
// again, which took a core from the build for the whole hook.
TEST(SessionRelayTest, WaitsWithoutSpinningOnceTheClientHasSentEverything) {
  FakeSession s;
  ASSERT_TRUE(WriteAll(s.client_in.get(), "the pack\n").ok());
  s.client_in.Reset();
  auto relay = std::async(std::launch::async, [&s] {
    timespec start{}, end{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    Result<SessionRelayResult> r =
        RunSessionRelay(Shell("cat; sleep 1; echo report"), {}, s.session, Options(std::chrono::seconds(30)));
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    s.relay_out.Reset();
    s.relay_err.Reset();
    double cpu_seconds = static_cast<double>(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    return std::make_pair(std::move(r), cpu_seconds);
  });
  std::string out = FakeSession::ReadAll(s.client_out.get());
  auto [r, cpu_seconds] = relay.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(out, "the pack\nreport\n");
  // A relay that sleeps uses a few milliseconds of the second git spends
  // in `sleep`; one that spins uses all of it.
  EXPECT_LT(cpu_seconds, 0.25) << "the relay spun while git worked";
}

TEST(SessionRelayTest, AStopRequestEndsTheSession) {
  FakeSession s;
  std::atomic<bool> stop{false};
  SessionRelayOptions options = Options(std::chrono::minutes(10));
  options.stop = &stop;
  auto relay = Start(s, Shell("sleep 300"), options);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop.store(true);
  Result<SessionRelayResult> r = Finish(relay);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, SessionRelayResult::Outcome::kStopped);
}

}  // namespace
}  // namespace pushgate
