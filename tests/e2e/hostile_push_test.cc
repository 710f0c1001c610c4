// End-to-end: what an attacker who is a member of one app can try with the
// real git and ssh clients, and the bound that holds each time (issue 13):
// non-commits on deploy branches, sessions and clients that stop talking or
// reading, waiters that leave, access revoked mid-session, force-pushed
// secrets, and trees built to exhaust the gateway.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/e2e/gateway.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

class HostilePushTest : public SharedGatewayTest<HostilePushTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    // The build's own timeout ends before the idle bound, so a client that
    // stops reading meets the build's clock first.
    options.build_options = "keepalive = \"1s\"\ntimeout = \"3s\"\n";
    options.app_build_steps = true;  // a build that floods its output
    options.extra_config =
        "[push]\n"
        "idle_timeout = \"6s\"\n"
        "max_pack_size = \"2MiB\"\n"
        "max_file_size = \"8MiB\"\n"
        // Ten of alice's pushes wait for one lock at once (the waiters'
        // test): more than one pusher's share of push slots.
        "max_pushes_per_user = 16\n";
    return options;
  }

 protected:
  CapturedRun Push(const std::string& dir, const std::string& app, const std::string& refspec = "main") {
    return gateway_->Git(*alice_, {"push", gateway_->Url(app), refspec}, dir);
  }
  std::string LockPath(const std::string& app) { return gateway_->data_dir() + "/locks/" + app + ".lock"; }

  // Waits up to `limit` for the app lock to be free.
  bool LockFreedWithin(const std::string& app, std::chrono::seconds limit) {
    return testing::LockFreedWithin(LockPath(app), limit);
  }

  // `ssh git@gateway COMMAND` with stdin a pipe the test holds open and
  // never writes to; output to `out_path`.
  struct RawSession {
    pid_t pid = -1;
    UniqueFd stdin_write;
  };
  RawSession StartRawSession(const std::string& command, const std::string& out_path) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd read_end(p[0]);
    RawSession session;
    session.stdin_write.Reset(p[1]);
    UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    std::vector<std::string> argv = gateway_->SshArgv(*alice_);
    argv.push_back("127.0.0.1");
    argv.push_back(command);
    SpawnSpec spec{"/usr/bin/ssh", argv, {"PATH=/usr/bin:/bin"}, read_end.get(), out.get(), out.get(), true, ""};
    for (const auto& [k, v] : gateway_->SshEnv()) SetEnv(spec.env, k, v);
    Result<pid_t> pid = Spawn(spec);
    EXPECT_TRUE(pid.ok()) << pid.status().ToString();
    session.pid = pid.ok() ? *pid : -1;
    return session;
  }

  int CountServerProcesses(const std::string& name) {
    int n = 0;
    for (const Gateway::ServerProcess& p : gateway_->ServerProcesses()) n += p.name == name;
    return n;
  }

  TempDir work_;
};

// git itself refuses to point a branch at a tag object, but only after the
// pre-receive hook: the hook must refuse it first, or the tag's tree goes
// live under a branch that never moved.
TEST_F(HostilePushTest, AnAnnotatedTagPushedToADeployBranchIsRefusedBeforeBuilding) {
  gateway_->AdminOk({"app", "create", "tagged", "--member", "alice"});
  std::string dir = work_ / "tagged";
  std::string first = MakeRepoWithCommit(dir, {{"index.html", "v1\n"}});
  ASSERT_TRUE(Push(dir, "tagged").status.success());
  CommitFiles(dir, {{"index.html", "v2\n"}}, "v2");
  RunOk({"git", "-C", dir, "tag", "-a", "-m", "release", "v2"}, GitEnv());
  std::string tag = RunOk({"git", "-C", dir, "rev-parse", "v2"}).substr(0, 40);
  CapturedRun push = Push(dir, "tagged", "+v2:refs/heads/main");
  EXPECT_FALSE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find(tag.substr(0, 7) + " is an annotated tag, not a commit"), std::string::npos)
      << push.output;
  EXPECT_EQ(push.output.find("Building tagged"), std::string::npos) << push.output;
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "tagged"), first);
  EXPECT_EQ(gateway_->CurrentRelease("tagged"), "v1-" + first.substr(0, 7));
}

// A client that opens receive-pack and sends nothing held the app lock for
// as long as it liked; now the session ends after push.idle_timeout.
TEST_F(HostilePushTest, AnIdlePushSessionIsEndedAndTheLockFreed) {
  gateway_->AdminOk({"app", "create", "idle", "--member", "alice"});
  RawSession idle = StartRawSession("git-receive-pack 'idle.git'", work_ / "idle.out");
  // The advertisement arrives, then nothing more is sent.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && ReadFile(work_ / "idle.out").find("report-status") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(ReadFile(work_ / "idle.out").find("report-status"), std::string::npos) << ReadFile(work_ / "idle.out");
  EXPECT_TRUE(LockHeld(LockPath("idle")));
  Result<std::optional<ExitStatus>> ended = WaitForExitUntil(idle.pid, std::chrono::seconds(60));
  ASSERT_TRUE(ended.ok() && ended->has_value()) << "the idle session was not ended";
  EXPECT_FALSE((*ended)->success());
  EXPECT_NE(ReadFile(work_ / "idle.out")
                .find("pushgate: nothing was sent or received for 6s; the push was ended so that others can deploy"),
            std::string::npos)
      << ReadFile(work_ / "idle.out");
  EXPECT_TRUE(LockFreedWithin("idle", std::chrono::seconds(10)));
  std::string dir = work_ / "idle-app";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  CapturedRun push = Push(dir, "idle");
  EXPECT_TRUE(push.status.success()) << push.output;
}

// A client that stops reading (here: stopped outright) fills every buffer
// between it and the build. build.timeout still ends the build, and the
// idle bound frees the lock, while the client is still stopped.
TEST_F(HostilePushTest, AClientThatStopsReadingCannotHoldTheBuildOrTheLock) {
  gateway_->AdminOk({"app", "create", "flood-app", "--member", "alice"});
  gateway_->SetBuild("flood-app", "exec yes 'a line of build output, and another, and another'");
  std::string dir = work_ / "flood";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("flood-app"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("a line of build output")) << push->output();
  push->Stop();
  bool freed = LockFreedWithin("flood-app", std::chrono::seconds(60));
  push->Kill();
  EXPECT_TRUE(freed) << "a client that stopped reading held the app lock";
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("\"msg\":\"build timed out\""), std::string::npos);
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "flood-app"), "");
}

// Connections waiting for a locked app, whose clients are killed, used to
// wait out push.lock_timeout (10 minutes) each.
TEST_F(HostilePushTest, WaitersWhoseClientsLeftStopWaiting) {
  gateway_->AdminOk({"app", "create", "busy", "--member", "alice"});
  // The locks directory and the lock file as pushes leave them: the git
  // user's (whichever test runs first).
  const struct passwd* git_user = ::getpwnam(Gateway::kGitUser);
  std::string locks = gateway_->data_dir() + "/locks";
  ASSERT_TRUE(MakeDirs(locks, 0750).ok());
  ASSERT_EQ(::chown(locks.c_str(), git_user->pw_uid, git_user->pw_gid), 0);
  WriteFile(LockPath("busy"), "", 0600);
  ASSERT_EQ(::chown(LockPath("busy").c_str(), git_user->pw_uid, 0), 0);
  Result<FileLock> held = FileLock::TryAcquire(LockPath("busy"));
  ASSERT_TRUE(held.ok());
  // The count below is of every pushgate-shell: one still ending a session
  // of an earlier test would be counted as a waiter.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && CountServerProcesses(gateway_->SessionProcessName()) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(CountServerProcesses(gateway_->SessionProcessName()), 0) << "sessions of earlier tests did not end";
  std::vector<RawSession> waiters;
  for (int i = 0; i < 10; ++i) {
    waiters.push_back(StartRawSession("git-receive-pack 'busy.git'", work_ / ("w" + std::to_string(i))));
  }
  deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && CountServerProcesses(gateway_->SessionProcessName()) < 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(CountServerProcesses(gateway_->SessionProcessName()), 10);
  for (RawSession& w : waiters) {
    ::kill(-w.pid, SIGKILL);
    (void)WaitForExit(w.pid);
  }
  deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && CountServerProcesses(gateway_->SessionProcessName()) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(CountServerProcesses(gateway_->SessionProcessName()), 0) << "waiters outlived their clients";
}

// Access is checked again in the hook: a member who opened receive-pack,
// then lost access, cannot deploy with the session they still hold. The
// client's own pre-push hook holds the push between the advertisement and
// the pack, while the test revokes access.
TEST_F(HostilePushTest, AccessRevokedWhileTheSessionIsOpenDeploysNothing) {
  TestKey mallory = gateway_->AddUserWithKey("mallory", keys_->path());
  gateway_->AdminOk({"app", "create", "revoked", "--member", "mallory"});
  std::string dir = work_ / "revoked";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  std::string ready = work_ / "ready", go = work_ / "go";
  WriteFile(dir + "/.git/hooks/pre-push",
            "#!/bin/sh\ntouch " + ready + "\nwhile [ ! -e " + go + " ]; do sleep 0.1; done\n", 0755);
  std::unique_ptr<LiveGit> push = gateway_->StartGit(mallory, {"push", gateway_->Url("revoked"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && !PathExists(ready)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(PathExists(ready)) << push->output();
  gateway_->AdminOk({"app", "revoke", "revoked", "mallory"});
  WriteFile(go, "");
  ExitStatus exit = push->Finish();
  EXPECT_FALSE(exit.success()) << push->output();
  EXPECT_NE(push->output().find("App revoked does not exist or you do not have access to it"), std::string::npos) << push->output();
  EXPECT_EQ(push->output().find("Building revoked"), std::string::npos) << push->output();
  EXPECT_EQ(gateway_->CurrentRelease("revoked"), "");
}

// A secret pushed, then force-pushed away: no fetch may get it back, in
// either protocol version (v2 lets a client ask for any object id).
TEST_F(HostilePushTest, ForcePushedAwayCommitsCannotBeFetched) {
  gateway_->AdminOk({"app", "create", "secret", "--member", "alice"});
  std::string dir = work_ / "secret";
  std::string leaked = MakeRepoWithCommit(dir, {{"credentials", "AWS_SECRET=hunter2\n"}});
  ASSERT_TRUE(Push(dir, "secret").status.success());
  std::string clean_dir = work_ / "clean";
  std::string clean = MakeRepoWithCommit(clean_dir, {{"README", "nothing to see\n"}});
  ASSERT_TRUE(Push(clean_dir, "secret", "+main:main").status.success());
  ASSERT_EQ(gateway_->RemoteRef(*alice_, "secret"), clean);
  for (const char* version : {"0", "2"}) {
    std::string fetcher = work_ / (std::string("fetch-v") + version);
    RunOk({"git", "init", "-q", fetcher}, GitEnv());
    CapturedRun fetch = gateway_->Git(
        *alice_, {"-c", std::string("protocol.version=") + version, "fetch", gateway_->Url("secret"), leaked}, fetcher);
    EXPECT_FALSE(fetch.status.success()) << "v" << version << ": " << fetch.output;
    EXPECT_FALSE(RunCommand({"git", "-C", fetcher, "cat-file", "-e", leaked}).status.success()) << "v" << version;
    CapturedRun ok = gateway_->Git(
        *alice_, {"-c", std::string("protocol.version=") + version, "fetch", gateway_->Url("secret"), "main"}, fetcher);
    EXPECT_TRUE(ok.status.success()) << "v" << version << ": " << ok.output;
  }
}

TEST_F(HostilePushTest, PacksAndFilesOverTheLimitsAreRefusedNamingThem) {
  gateway_->AdminOk({"app", "create", "limits", "--member", "alice"});
  std::string dir = work_ / "limits";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  // 9 MiB of zeros: a tiny pack, a file over push.max_file_size.
  RunOk({"truncate", "-s", "9M", dir + "/big.bin"});
  std::string big = CommitFiles(dir, {}, "big");
  CapturedRun push = Push(dir, "limits");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("big.bin is 9.0 MiB, more than push.max_file_size (8.0 MiB)"), std::string::npos)
      << push.output;
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "limits"), "");
  // 3 MB that do not compress: a pack over push.max_pack_size (git's
  // receive.maxInputSize), refused while it arrives.
  RunOk({"git", "-C", dir, "rm", "-q", "big.bin"}, GitEnv());
  std::string noise(3 << 20, '\0');
  uint32_t state = 7;
  for (char& c : noise) c = static_cast<char>((state = state * 1103515245 + 12345) >> 24);
  CommitFiles(dir, {{"noise.bin", noise}}, "noise");
  push = Push(dir, "limits");
  EXPECT_FALSE(push.status.success());
  // A few objects: unpack-objects, whose message does not name the size.
  EXPECT_NE(push.output.find("fatal: pack exceeds maximum allowed size"), std::string::npos) << push.output;
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "limits"), "");
}

TEST_F(HostilePushTest, DeepTreesAndSymlinksOutOfTheReleaseAreRefused) {
  gateway_->AdminOk({"app", "create", "shapes", "--member", "alice"});
  std::string dir = work_ / "shapes";
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "d/";
  MakeRepoWithCommit(dir, {{deep + "leaf", "deep\n"}});
  CapturedRun push = Push(dir, "shapes");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find(" is 65 levels deep, more than push.max_tree_depth (64)"), std::string::npos)
      << push.output;

  std::string links = work_ / "links";
  MakeRepoWithCommit(links, {{"index.html", "hi\n"}});
  ASSERT_EQ(::symlink("/etc/shadow", (links + "/abs").c_str()), 0);
  CommitFiles(links, {}, "absolute link");
  push = Push(links, "shapes", "+main:main");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("the pushed commit cannot be deployed: the symlink abs points outside the app (to "
                             "/etc/shadow)"),
            std::string::npos)
      << push.output;
  RunOk({"git", "-C", links, "rm", "-q", "abs"}, GitEnv());
  ASSERT_EQ(::symlink("../../../..", (links + "/up").c_str()), 0);
  ASSERT_EQ(::symlink("index.html", (links + "/inside").c_str()), 0);
  CommitFiles(links, {}, "climbing link");
  push = Push(links, "shapes", "+main:main");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("the symlink up points outside the app (to ../../../..)"), std::string::npos)
      << push.output;
  RunOk({"git", "-C", links, "rm", "-q", "up"}, GitEnv());
  CommitFiles(links, {}, "only the inside link");
  push = Push(links, "shapes", "+main:main");
  EXPECT_TRUE(push.status.success()) << push.output;
  EXPECT_EQ(ReadFile(gateway_->data_dir() + "/releases/shapes/current/inside"), "hi\n");
}

// 210 idle pre-authentication connections from one address used to make a
// legitimate client fail. One source now holds at most 50 pending logins
// (OpenSSH's PerSourceMaxStartups, pushgate-sshd's
// sshd.max_unauthenticated_per_source: the rest are closed at once), and
// others get in while 200 are held open.
TEST_F(HostilePushTest, APreAuthFloodFromOneSourceLocksNobodyElseOut) {
  std::vector<UniqueFd> flood;
  for (int i = 0; i < 200; ++i) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000002);  // 127.0.0.2: another source on loopback
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(static_cast<uint16_t>(gateway_->port()));
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    flood.push_back(std::move(fd));
  }
  // sshd closes the connections past its per-source limit at once.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int open = 0;
  for (const UniqueFd& fd : flood) {
    char buf[512];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    }
    open += n < 0 && errno == EAGAIN;
  }
  EXPECT_LE(open, 50) << "pending logins from one source";
  EXPECT_GE(open, 1);
  gateway_->AdminOk({"app", "create", "flooded", "--member", "alice"});
  CapturedRun ls = gateway_->Git(*alice_, {"ls-remote", gateway_->Url("flooded")}, "/");
  EXPECT_TRUE(ls.status.success()) << ls.output;
}

TEST_F(HostilePushTest, ShortRsaKeysAreRefusedAtRegistration) {
  TestKey weak = MakeKey(work_.path(), "weak", "rsa", 1024);
  gateway_->AdminOk({"user", "add", "weakling"});
  CapturedRun add = gateway_->Admin({"key", "add", "weakling", weak.private_path + ".pub"});
  EXPECT_FALSE(add.status.success());
  EXPECT_NE(add.output.find("this RSA key has 1024 bits; RSA keys need at least 2048 (keys.min_rsa_bits)"),
            std::string::npos)
      << add.output;
  gateway_->AdminOk({"app", "create", "weak-app", "--member", "weakling"});
  CapturedRun push = gateway_->Git(weak, {"ls-remote", gateway_->Url("weak-app")}, "/");
  EXPECT_NE(push.output.find("Permission denied (publickey)"), std::string::npos) << push.output;
}

}  // namespace
}  // namespace pushgate::testing
