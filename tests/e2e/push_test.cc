// End-to-end: real git and ssh clients against a private sshd running
// pushgate's keys helper, forced shell and pre-receive hook.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/gateway.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/random_id.h"

namespace pushgate::testing {
namespace {

class PushTest : public SharedGatewayTest<PushTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    // The reaper test removes a repository pushed moments before.
    options.extra_config = "[reaper]\ngrace = \"0s\"\nmax_fraction = 1.0\n";
    // Builds that fail, take a while, print a lot or read push options;
    // BundledDeployTest pushes through the default (no build command).
    options.app_build_steps = true;
    return options;
  }

 protected:
  static void SetUpTestSuite() {
    SharedGatewayTest::SetUpTestSuite();
    if (gateway_ != nullptr) bob_ = new TestKey(gateway_->AddUserWithKey("bob", keys_->path()));
  }
  static void TearDownTestSuite() {
    SharedGatewayTest::TearDownTestSuite();
    delete bob_;
  }

  // A fresh work tree with one commit; returns its path.
  std::string NewWorkTree(const std::string& name, const std::map<std::string, std::string>& files,
                          std::string* commit = nullptr) {
    std::string dir = work_ / name;
    std::string id = MakeRepoWithCommit(dir, files);
    if (commit != nullptr) *commit = id;
    return dir;
  }

  CapturedRun Push(const TestKey& key, const std::string& dir, const std::string& app,
                   const std::string& refspec = "main") {
    return gateway_->Git(key, {"push", gateway_->Url(app), refspec}, dir);
  }

  std::string RemoteRef(const std::string& app, const std::string& ref = "refs/heads/main") {
    return gateway_->RemoteRef(*alice_, app, ref);
  }

  std::string ReleasesDir(const std::string& app) { return gateway_->data_dir() + "/releases/" + app; }
  std::string CurrentRelease(const std::string& app) { return gateway_->CurrentRelease(app); }

  static inline TestKey* bob_ = nullptr;
  TempDir work_;
};

TEST_F(PushTest, FirstPushDeploysTheExactTreeAndSecondPushMakesV2) {
  gateway_->AdminOk({"app", "create", "web", "--member", "alice"});
  std::string commit;
  std::string dir = NewWorkTree("web", {{"index.html", "<h1>v1</h1>\n"}, {"lib/app.rb", "puts 1\n"}}, &commit);
  ASSERT_EQ(::symlink("lib/app.rb", (dir + "/entry").c_str()), 0);
  commit = CommitFiles(dir, {}, "add link");
  CapturedRun push = Push(*alice_, dir, "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  std::string short_id = commit.substr(0, 7);
  EXPECT_NE(push.output.find("-----> Building web (" + short_id + ") as alice"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> web deployed: v1 (" + short_id + ")"), std::string::npos) << push.output;
  EXPECT_EQ(RemoteRef("web"), commit);

  // The release is exactly the pushed tree: compare with git's own checkout.
  EXPECT_EQ(CurrentRelease("web"), "v1-" + short_id);
  RunOk({"git", "clone", "-q", dir, work_ / "expected"}, GitEnv());
  RunOk({"rm", "-rf", work_ / "expected/.git"});
  CapturedRun diff = RunCommand({"diff", "-r", "--no-dereference", work_ / "expected", ReleasesDir("web") + "/current/"});
  EXPECT_TRUE(diff.status.success()) << diff.output;

  std::string second = CommitFiles(dir, {{"index.html", "<h1>v2</h1>\n"}}, "v2");
  push = Push(*alice_, dir, "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> web deployed: v2 (" + second.substr(0, 7) + ")"), std::string::npos)
      << push.output;
  EXPECT_EQ(ReadFile(ReleasesDir("web") + "/current/index.html"), "<h1>v2</h1>\n");
  EXPECT_EQ(RemoteRef("web"), second);
}

// The sixth deploy retires the first release: it leaves the listing at once,
// and its tree is deleted after the push by a detached child.
TEST_F(PushTest, TheOldestReleaseIsRetiredAndDeletedAfterThePush) {
  gateway_->AdminOk({"app", "create", "kept", "--member", "alice"});
  std::string dir = NewWorkTree("kept", {{"n", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "kept").status.success());
  std::string first = CurrentRelease("kept");
  for (int i = 2; i <= 6; ++i) {
    CommitFiles(dir, {{"n", std::to_string(i)}}, "change " + std::to_string(i));
    CapturedRun push = Push(*alice_, dir, "kept");
    ASSERT_TRUE(push.status.success()) << push.output;
  }
  auto entries = [&] {
    std::vector<std::string> names = *ListDir(ReleasesDir("kept"));
    return std::count_if(names.begin(), names.end(), [](const std::string& n) { return n != "builds"; });
  };
  EXPECT_FALSE(PathExists(ReleasesDir("kept") + "/" + first));
  for (int i = 0; i < 3000 && entries() != 5 * 2 + 1; ++i) ::usleep(10000);
  EXPECT_EQ(entries(), 5 * 2 + 1) << "five releases, their records and current; nothing retired left";
}

// The README's policy: a force push (rewritten or unrelated history) is
// accepted and deployed like any other push.
TEST_F(PushTest, AForcePushIsAcceptedAndDeployed) {
  gateway_->AdminOk({"app", "create", "forced", "--member", "alice"});
  ASSERT_TRUE(Push(*alice_, NewWorkTree("forced-1", {{"index.html", "first\n"}}), "forced").status.success());
  std::string rewritten;
  std::string dir = NewWorkTree("forced-2", {{"index.html", "rewritten\n"}}, &rewritten);
  CapturedRun plain = Push(*alice_, dir, "forced");
  EXPECT_FALSE(plain.status.success()) << plain.output;  // git itself asks for --force
  CapturedRun forced = gateway_->Git(*alice_, {"push", "--force", gateway_->Url("forced"), "main"}, dir);
  ASSERT_TRUE(forced.status.success()) << forced.output;
  EXPECT_NE(forced.output.find("-----> forced deployed: v2 (" + rewritten.substr(0, 7) + ")"), std::string::npos)
      << forced.output;
  EXPECT_EQ(ReadFile(ReleasesDir("forced") + "/current/index.html"), "rewritten\n");
  EXPECT_EQ(RemoteRef("forced"), rewritten);
}

TEST_F(PushTest, UnknownKeyIsDeniedBySshd) {
  TestKey stranger = MakeKey(keys_->path(), "stranger");
  gateway_->AdminOk({"app", "create", "stranger-app", "--member", "alice"});
  CapturedRun push = Push(stranger, NewWorkTree("s", {{"a", "1"}}), "stranger-app");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("Permission denied (publickey)"), std::string::npos) << push.output;
}

TEST_F(PushTest, RemovedKeyIsDeniedImmediately) {
  TestKey carol = gateway_->AddUserWithKey("carol", keys_->path());
  gateway_->AdminOk({"app", "create", "carol-app", "--member", "carol"});
  std::string dir = NewWorkTree("c", {{"a", "1"}});
  ASSERT_TRUE(Push(carol, dir, "carol-app").status.success());
  gateway_->AdminOk({"key", "rm", carol.sha256});
  CapturedRun push = Push(carol, dir, "carol-app");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("Permission denied (publickey)"), std::string::npos) << push.output;
}

TEST_F(PushTest, MemberOfAnotherAppIsDenied) {
  gateway_->AdminOk({"app", "create", "private", "--member", "alice"});
  CapturedRun push = Push(*bob_, NewWorkTree("p", {{"a", "1"}}), "private");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App private does not exist or you do not have access to it"), std::string::npos)
      << push.output;
  EXPECT_FALSE(PathExists(gateway_->data_dir() + "/repos/private.git"));
  // The operator's log keeps the precise reason.
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("You do not have access to private"),
            std::string::npos);
}

// A missing app and a foreign one get the same words, so a registered key
// cannot probe which app names exist.
TEST_F(PushTest, UnknownAppIsDeniedInTheSameWordsAsAForeignOne) {
  CapturedRun push = Push(*alice_, NewWorkTree("u", {{"a", "1"}}), "nope");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App nope does not exist or you do not have access to it"), std::string::npos)
      << push.output;
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("App nope does not exist\""), std::string::npos);
}

TEST_F(PushTest, BadAppNamesAreDenied) {
  std::string dir = NewWorkTree("b", {{"a", "1"}});
  for (std::string app : {"../x", "a;b", "A"}) {
    CapturedRun push = Push(*alice_, dir, app);
    EXPECT_FALSE(push.status.success()) << app;
    EXPECT_NE(push.output.find("is not a valid app name"), std::string::npos) << app << ": " << push.output;
  }
  for (std::string leaked : {"/x.git", "/repos/x.git", "/repos/a;b.git", "/repos/A.git", "/repos/a.git"}) {
    EXPECT_FALSE(PathExists(gateway_->data_dir() + leaked)) << leaked;
  }
}

TEST_F(PushTest, InteractiveShellAndCommandsAreRefused) {
  CapturedRun login = gateway_->Ssh(*alice_, {"-T", "127.0.0.1"});
  EXPECT_EQ(login.status.code, 1) << login.output;
  // The greeting lists alice's apps, which depend on the tests run before
  // (PusherCommandTest checks the list).
  EXPECT_EQ(login.output.rfind("Hi alice! You ", 0), 0u) << login.output;
  EXPECT_NE(login.output.find(". pushgate does not provide shell access.\n"), std::string::npos) << login.output;
  CapturedRun command = gateway_->Ssh(*alice_, {"127.0.0.1", "cat /etc/passwd"});
  EXPECT_EQ(command.status.code, 1);
  EXPECT_EQ(command.output.find("root:"), std::string::npos) << command.output;
  EXPECT_NE(command.output.find("does not provide shell access"), std::string::npos);
  CapturedRun tty = gateway_->Ssh(*alice_, {"-tt", "127.0.0.1"});
  EXPECT_NE(tty.status.code, 0);
  EXPECT_EQ(tty.output.find("$ "), std::string::npos) << tty.output;
}

// What sshd does with the `restrict` line and the drop-in, asked for by a
// real client: no tunnels either way, no pty.
TEST_F(PushTest, ForwardingAndPtyRequestsAreRefusedBySshd) {
  CapturedRun remote = gateway_->Ssh(
      *alice_, {"-o", "ExitOnForwardFailure=yes", "-N", "-R", "127.0.0.1:0:127.0.0.1:22", "127.0.0.1"});
  EXPECT_NE(remote.status.code, 0);
  EXPECT_NE(remote.output.find("remote port forwarding failed"), std::string::npos) << remote.output;
  // -W opens the same direct-tcpip channel a -L forward would.
  CapturedRun local = gateway_->Ssh(*alice_, {"-W", "127.0.0.1:" + std::to_string(gateway_->port()), "127.0.0.1"});
  EXPECT_NE(local.status.code, 0);
  EXPECT_NE(local.output.find("stdio forwarding failed"), std::string::npos) << local.output;
  EXPECT_EQ(local.output.find("SSH-2.0"), std::string::npos) << "the tunnel reached sshd: " << local.output;
  CapturedRun pty = gateway_->Ssh(*alice_, {"-tt", "127.0.0.1"});
  EXPECT_NE(pty.output.find("PTY allocation request failed"), std::string::npos) << pty.output;
}

// A client's environment (`ssh -o SetEnv=...`) reaches git only as a valid
// GIT_PROTOCOL: an LD_PRELOAD that reached git would make the loader
// complain on git's stderr, which the client sees.
TEST_F(PushTest, OnlyAValidGitProtocolPassesFromTheClientsEnvironment) {
  gateway_->AdminOk({"app", "create", "environ", "--member", "alice"});
  std::string url = gateway_->Url("environ");
  std::map<std::string, std::string> env = gateway_->GitClientEnv(*alice_);
  env["GIT_SSH_COMMAND"] += " -o SetEnv='LD_PRELOAD=/nonexistent/preload.so GIT_CONFIG_PARAMETERS=x'";
  CapturedRun hostile = RunCommand({"timeout", "60", "git", "ls-remote", url}, env, "/");
  EXPECT_TRUE(hostile.status.success()) << hostile.output;
  EXPECT_EQ(hostile.output.find("preload"), std::string::npos) << hostile.output;
  // GIT_PROTOCOL gets through (git itself sends it for protocol v2, with
  // SendEnv), and the gateway answers in v0 on purpose
  // (HostilePushTest.ForcePushedAwayCommitsCannotBeFetched).
  env = gateway_->GitClientEnv(*alice_);
  env["GIT_SSH_COMMAND"] += " -o SetEnv=GIT_PROTOCOL=version=2";
  CapturedRun v2 = RunCommand({"timeout", "60", "git", "ls-remote", url}, env, "/");
  EXPECT_TRUE(v2.status.success()) << v2.output;
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("serving the fetch with protocol v0 instead of v2"),
            std::string::npos);
}

// Unix sockets bound under /tmp/ssh-*/ right now: where sshd puts the
// socket of a forwarded agent (agent.PID) for the session's processes.
std::set<std::string> ForwardedAgentSockets() {
  std::set<std::string> out;
  Result<std::string> table = ReadSmallFile("/proc/net/unix", 64 << 20);
  std::istringstream lines(table.ok() ? *table : "");
  for (std::string line; std::getline(lines, line);) {
    size_t path = line.find(" /tmp/ssh-");
    if (path != std::string::npos && line.find("/agent.", path) != std::string::npos) out.insert(line.substr(path + 1));
  }
  return out;
}

// A developer's `ssh -A` (or ForwardAgent yes in their ssh config) must not
// hand their agent to the gateway: sshd opens no agent socket for the session
// (restrict in the key line, DisableForwarding in the drop-in).
TEST_F(PushTest, AgentForwardingIsRefused) {
  gateway_->AdminOk({"app", "create", "agent-app", "--member", "alice"});
  TempDir agent_dir;
  std::string agent_socket = agent_dir / "agent";
  CapturedRun agent = RunCommand({"ssh-agent", "-s", "-a", agent_socket});
  ASSERT_TRUE(agent.status.success()) << agent.output;
  size_t pid_at = agent.output.find("SSH_AGENT_PID=");
  ASSERT_NE(pid_at, std::string::npos) << agent.output;
  pid_t agent_pid = std::atoi(agent.output.c_str() + pid_at + 14);
  std::map<std::string, std::string> env = gateway_->SshEnv();
  env["SSH_AUTH_SOCK"] = agent_socket;
  EXPECT_TRUE(RunCommand({"ssh-add", alice_->private_path}, env).status.success());
  std::set<std::string> before = ForwardedAgentSockets();

  // A session held open: git-upload-pack advertises, then waits for input.
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  UniqueFd in_read(in[0]), in_write(in[1]), out_read(out[0]), out_write(out[1]);
  SpawnSpec ssh{"/usr/bin/ssh", gateway_->SshArgv(*alice_), {"PATH=/usr/bin:/bin"}, in_read.get(), out_write.get(),
                out_write.get(), false, ""};
  for (const char* arg : {"-A", "-o", "ForwardAgent=yes", "127.0.0.1", "git-upload-pack 'agent-app.git'"}) {
    ssh.argv.push_back(arg);
  }
  for (const auto& [k, v] : env) SetEnv(ssh.env, k, v);
  Result<pid_t> pid = Spawn(ssh);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  in_read.Reset();
  out_write.Reset();
  pollfd ready{out_read.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, 30000), 1) << "no advertisement from git-upload-pack";
  char buf[256];
  ssize_t n = ::read(out_read.get(), buf, sizeof buf);
  EXPECT_GT(n, 0);
  std::string advertised(buf, n > 0 ? static_cast<size_t>(n) : 0);
  std::set<std::string> during = ForwardedAgentSockets();
  in_write.Reset();  // upload-pack sees the end of input and exits
  Result<std::optional<ExitStatus>> exited = WaitForExitUntil(*pid, std::chrono::seconds(30));
  if (!exited.ok() || !exited->has_value()) ::kill(*pid, SIGKILL);
  ::kill(agent_pid, SIGTERM);

  EXPECT_NE(advertised.find("0000"), std::string::npos) << "the session did not start: " << advertised;
  for (const std::string& socket : during) {
    EXPECT_EQ(before.count(socket), 1u) << "sshd forwarded the agent to " << socket;
  }
}

// A repository or hook that the pusher (or a build, which runs as the git
// user) could change must not decide which code runs on a push: the hooks
// come from pushgate's root-owned directory through git's environment, which
// overrides the repository's config; the client cannot send config (sshd
// accepts only GIT_PROTOCOL; push options are data for the build, never config).
TEST_F(PushTest, RepositoryTamperingCannotRedirectTheHooks) {
  gateway_->AdminOk({"app", "create", "tamper", "--member", "alice"});
  std::string dir = NewWorkTree("tamper", {{"a", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "tamper").status.success());
  std::string marker = "/tmp/pushgate-e2e-tampered-" + RandomHex(4);
  std::string evil = "/tmp/pushgate-e2e-evil-hooks-" + RandomHex(4);
  ASSERT_TRUE(MakeDirs(evil, 0755).ok());
  for (const char* hook : {"pre-receive", "update", "post-receive", "post-update", "push-to-checkout"}) {
    WriteFile(evil + "/" + std::string(hook), "#!/bin/sh\ntouch " + marker + "\n", 0755);
  }
  // The repository's own config and hooks directory, edited.
  std::string repo = gateway_->data_dir() + "/repos/tamper.git";
  std::string repo_config = ReadFile(repo + "/config");
  WriteFile(repo + "/config", repo_config + "[core]\n\thooksPath = " + evil + "\n", 0644);
  ASSERT_TRUE(MakeDirs(repo + "/hooks", 0755).ok());
  WriteFile(repo + "/hooks/pre-receive", "#!/bin/sh\ntouch " + marker + "\n", 0755);

  // Config sent by the client: through the ssh environment, and as push options.
  CommitFiles(dir, {{"a", "2"}}, "second");
  std::map<std::string, std::string> env = gateway_->GitClientEnv(*alice_);
  env["GIT_SSH_COMMAND"] += " -o 'SetEnv=GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=" +
                            evil + " GIT_CONFIG_PARAMETERS=core.hooksPath=" + evil + "'";
  CapturedRun with_env = RunCommand({"timeout", "120", "git", "push", gateway_->Url("tamper"), "main"}, env, dir);
  EXPECT_TRUE(with_env.status.success()) << with_env.output;
  EXPECT_NE(with_env.output.find("tamper deployed: v2"), std::string::npos) << with_env.output;
  CommitFiles(dir, {{"a", "3"}}, "third");
  CapturedRun with_options = gateway_->Git(*alice_, {"push", "-o", "core.hooksPath=" + evil, gateway_->Url("tamper"),
                                                     "main"}, dir);
  EXPECT_TRUE(with_options.status.success()) << with_options.output;
  EXPECT_NE(with_options.output.find("tamper deployed: v3"), std::string::npos) << with_options.output;

  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a hook pushgate did not ship ran";
  ::unlink(marker.c_str());
  (void)RemoveTree(evil);
}

// Objects git's fsck refuses never reach a repository or a build: submodule
// names that climb out of .git/modules (CVE-2018-11235), URLs and paths that
// a later `git submodule` would take for options, and tree entries named .git
// or .. (CVE-2014-9390).
TEST_F(PushTest, RepositoryTamperingGitmodulesAndDotGitAreRefusedByFsck) {
  gateway_->AdminOk({"app", "create", "modules", "--member", "alice"});
  const std::vector<std::pair<std::string, std::string>> gitmodules = {
      {"[submodule \"../../../hooks\"]\n\tpath = x\n\turl = https://example.com/x.git\n", "gitmodulesName"},
      {"[submodule \"x\"]\n\tpath = x\n\turl = --upload-pack=touch /tmp/pwned\n", "gitmodulesUrl"},
      {"[submodule \"x\"]\n\tpath = -x\n\turl = https://example.com/x.git\n", "gitmodulesPath"},
  };
  int n = 0;
  for (const auto& [content, check] : gitmodules) {
    SCOPED_TRACE(check);
    std::string dir = NewWorkTree("modules-" + std::to_string(n++), {{".gitmodules", content}});
    CapturedRun push = Push(*alice_, dir, "modules");
    EXPECT_FALSE(push.status.success());
    EXPECT_NE(push.output.find(check), std::string::npos) << push.output;
    EXPECT_EQ(push.output.find("Building"), std::string::npos) << "a refused object reached the build";
  }
  std::string dir = NewWorkTree("dotgit", {{"a", "1"}});
  std::string blob = RunOk({"git", "hash-object", "-w", "--stdin"}, GitEnv(), dir);
  blob.pop_back();
  for (const auto& [name, check] : std::vector<std::pair<std::string, std::string>>{{".GIT", "hasDotgit"},
                                                                                     {"..", "hasDotdot"}}) {
    SCOPED_TRACE(check);
    CapturedRun tree = RunCommand({"git", "mktree"}, GitEnv(), dir, "100644 blob " + blob + "\t" + name + "\n");
    ASSERT_TRUE(tree.status.success()) << tree.output;
    std::string commit = RunOk({"git", "commit-tree", tree.output.substr(0, 40), "-m", "evil"}, GitEnv(), dir);
    commit.pop_back();
    CapturedRun push = Push(*alice_, dir, "modules", commit + ":refs/heads/main");
    EXPECT_FALSE(push.status.success());
    EXPECT_NE(push.output.find(check), std::string::npos) << push.output;
  }
  EXPECT_EQ(RemoteRef("modules"), "");
}

// git push -o reaches the build as a JSON file; too many are refused before
// anything is built.
TEST_F(PushTest, PushOptionsReachTheBuild) {
  gateway_->AdminOk({"app", "create", "opts", "--member", "alice"});
  gateway_->SetBuild("opts", "echo \"options: $(cat \"$PUSHGATE_PUSH_OPTIONS\")\"");
  std::string dir = NewWorkTree("opts", {{"a", "1"}});
  CapturedRun push = gateway_->Git(*alice_, {"push", "-o", "nocache", "-o", "env=staging", gateway_->Url("opts"), "main"},
                                   dir);
  EXPECT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("options: [\"nocache\",\"env=staging\"]"), std::string::npos) << push.output;
  CommitFiles(dir, {{"a", "2"}}, "second");
  std::vector<std::string> many = {"push"};
  for (int i = 0; i < 17; ++i) {
    many.push_back("-o");
    many.push_back("o" + std::to_string(i));
  }
  many.push_back(gateway_->Url("opts"));
  many.push_back("main");
  CapturedRun refused = gateway_->Git(*alice_, many, dir);
  EXPECT_FALSE(refused.status.success());
  EXPECT_NE(refused.output.find("this push carries 17 push options; at most 16 are taken"), std::string::npos)
      << refused.output;
  EXPECT_EQ(refused.output.find("options: ["), std::string::npos) << refused.output;
}

TEST_F(PushTest, FailingBuildRejectsThePushAndLeavesTheRefUnchanged) {
  gateway_->AdminOk({"app", "create", "fail-api", "--member", "alice"});
  gateway_->SetBuild("fail-api", "echo \"compiling $PUSHGATE_APP\"; echo 'error: 3 tests failed' >&2; exit 3");
  std::string dir = NewWorkTree("f", {{"a", "1"}});
  CapturedRun push = Push(*alice_, dir, "fail-api");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("compiling fail-api"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("error: 3 tests failed"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("Build failed (exit status 3)"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("pre-receive hook declined"), std::string::npos) << push.output;
  EXPECT_EQ(RemoteRef("fail-api"), "");
  EXPECT_FALSE(PathExists(ReleasesDir("fail-api") + "/current"));
}

TEST_F(PushTest, NonDeployBranchAndDeletionAreRefused) {
  gateway_->AdminOk({"app", "create", "refs", "--member", "alice"});
  std::string dir = NewWorkTree("r", {{"a", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "refs").status.success());
  std::string deployed = RemoteRef("refs");
  RunOk({"git", "checkout", "-q", "-b", "feature"}, GitEnv(), dir);
  CommitFiles(dir, {{"b", "2"}}, "feature work");
  CapturedRun feature = Push(*alice_, dir, "refs", "feature");
  EXPECT_FALSE(feature.status.success());
  EXPECT_NE(feature.output.find("pushgate deploys only refs/heads/main or refs/heads/master"), std::string::npos)
      << feature.output;
  EXPECT_EQ(RemoteRef("refs", "refs/heads/feature"), "");
  CapturedRun del = Push(*alice_, dir, "refs", ":main");
  EXPECT_FALSE(del.status.success());
  EXPECT_NE(del.output.find("deleting a deploy branch is not allowed"), std::string::npos) << del.output;
  EXPECT_EQ(RemoteRef("refs"), deployed);
}

TEST_F(PushTest, ConcurrentPushesToOneAppAreSerializedInOrder) {
  gateway_->AdminOk({"app", "create", "slow-app", "--member", "alice", "--member", "bob"});
  gateway_->SetBuild("slow-app", "echo 'building slowly'; sleep 2");
  std::string one, two;
  std::string dir1 = NewWorkTree("one", {{"who", "one"}}, &one);
  std::string dir2 = NewWorkTree("two", {{"who", "two"}}, &two);
  CapturedRun first, second;
  auto t0 = std::chrono::steady_clock::now();
  std::thread a([&] { first = Push(*alice_, dir1, "slow-app", "+main"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::thread b([&] { second = Push(*bob_, dir2, "slow-app", "+main"); });
  a.join();
  b.join();
  ASSERT_TRUE(first.status.success()) << first.output;
  ASSERT_TRUE(second.status.success()) << second.output;
  EXPECT_NE(second.output.find("waiting for the deploy in progress..."), std::string::npos) << second.output;
  EXPECT_NE(first.output.find("slow-app deployed: v1 (" + one.substr(0, 7) + ")"), std::string::npos)
      << first.output;
  EXPECT_NE(second.output.find("slow-app deployed: v2 (" + two.substr(0, 7) + ")"), std::string::npos)
      << second.output;
  // Two 2-second builds one after the other, not side by side.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_EQ(RemoteRef("slow-app"), two);
  EXPECT_EQ(ReadFile(ReleasesDir("slow-app") + "/current/who"), "two");
}

TEST_F(PushTest, BuildLogIsStreamedLive) {
  gateway_->AdminOk({"app", "create", "live-app", "--member", "alice"});
  gateway_->SetBuild("live-app", "echo 'first line'; sleep 3; echo 'last line'");
  std::string dir = NewWorkTree("live", {{"a", "1"}});
  // Read the push's output as it arrives; "first line" must show up while
  // the build is still sleeping before "last line".
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("live-app"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("first line")) << push->output();
  auto first_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(push->ReadUntil("last line")) << push->output();
  auto last_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(push->Finish().success()) << push->output();
  EXPECT_GE(last_at - first_at, std::chrono::seconds(2)) << "the log arrived in one piece at the end";
}

TEST_F(PushTest, DisconnectedPusherLeavesNoLockBehind) {
  gateway_->AdminOk({"app", "create", "chatty-app", "--member", "alice"});
  gateway_->SetBuild("chatty-app", "while :; do echo 'still building'; sleep 0.2; done");
  std::string dir = NewWorkTree("chatty", {{"a", "1"}});
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("chatty-app"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("still building")) << push->output();
  push->Kill();  // the pusher's git and ssh vanish mid-build

  // The never-ending build is stopped and the app lock released: a second
  // pusher gets in (and, with its own chatty build, is cut off the same way).
  std::string lock = gateway_->data_dir() + "/locks/chatty-app.lock";
  EXPECT_TRUE(LockFreedWithin(lock, std::chrono::seconds(10)))
      << "the app lock is still held 10 s after the pusher disconnected";
  EXPECT_EQ(RemoteRef("chatty-app"), "");
  Result<std::vector<std::string>> tmp = ListDir(gateway_->data_dir() + "/tmp");
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();
  EXPECT_TRUE(tmp->empty()) << "the source archive was left behind";
}

// app rm leaves the repository to pushgate-reaper, which removes it (and
// nothing else); an app created again under the name starts afresh.
TEST_F(PushTest, ReaperRemovesTheRepositoryOfARemovedApp) {
  gateway_->AdminOk({"app", "create", "short-lived", "--member", "alice"});
  gateway_->AdminOk({"app", "create", "long-lived", "--member", "alice"});
  std::string dir = NewWorkTree("short", {{"a", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "short-lived").status.success());
  ASSERT_TRUE(Push(*alice_, dir, "long-lived").status.success());
  gateway_->AdminOk({"app", "rm", "short-lived"});
  std::string repos = gateway_->data_dir() + "/repos";
  ASSERT_TRUE(ListDir(repos + "/short-lived.git").ok());

  std::string reaper = gateway_->prefix() + "/libexec/pushgate/pushgate-reaper";
  CapturedRun dry = RunCommand({"runuser", "-u", Gateway::kGitUser, "--", reaper, "--config",
                                gateway_->config_path(), "--once", "--dry-run"});
  EXPECT_TRUE(dry.status.success()) << dry.output;
  EXPECT_NE(dry.output.find("would remove short-lived"), std::string::npos) << dry.output;
  EXPECT_TRUE(ListDir(repos + "/short-lived.git").ok());

  CapturedRun run = RunCommand({"runuser", "-u", Gateway::kGitUser, "--", reaper, "--config",
                                gateway_->config_path(), "--once"});
  EXPECT_TRUE(run.status.success()) << run.output;
  EXPECT_NE(run.output.find("\"removed\":1"), std::string::npos) << run.output;
  EXPECT_FALSE(ListDir(repos + "/short-lived.git").ok());
  EXPECT_TRUE(ListDir(repos + "/long-lived.git").ok());
  EXPECT_FALSE(RemoteRef("long-lived").empty()) << "the reaper touched an existing app";

  gateway_->AdminOk({"app", "create", "short-lived", "--member", "alice"});
  EXPECT_TRUE(Push(*alice_, dir, "short-lived").status.success());
  gateway_->AdminOk({"app", "rm", "short-lived", "--purge"});
  EXPECT_FALSE(ListDir(repos + "/short-lived.git").ok());
}

// Draining before maintenance: new pushes are refused with a clear message,
// clones keep working, and `drain off` lets pushes in again.
TEST_F(PushTest, DrainPausesPushesNotClones) {
  gateway_->AdminOk({"app", "create", "drained", "--member", "alice"});
  std::string dir = NewWorkTree("drained", {{"a", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "drained").status.success());
  std::string on = gateway_->AdminOk({"drain", "on"});
  EXPECT_NE(on.find("draining: new pushes are refused; 0 pushes in flight"), std::string::npos) << on;
  CommitFiles(dir, {{"a", "2"}}, "second");
  CapturedRun refused = Push(*alice_, dir, "drained");
  EXPECT_FALSE(refused.status.success());
  EXPECT_NE(refused.output.find("drained deploys are paused for maintenance, try again shortly"), std::string::npos)
      << refused.output;
  CapturedRun clone =
      gateway_->Git(*alice_, {"clone", "-q", gateway_->Url("drained"), work_ / "drained-clone"}, work_.path());
  EXPECT_TRUE(clone.status.success()) << clone.output;
  EXPECT_NE(gateway_->AdminOk({"drain"}).find("draining"), std::string::npos);
  CapturedRun status = gateway_->Admin({"status", "--json"});
  EXPECT_GE(status.status.code, 1) << status.output;  // draining is at least degraded
  EXPECT_NE(status.output.find("\"draining\":\"yes\""), std::string::npos) << status.output;
  gateway_->AdminOk({"drain", "off"});
  EXPECT_NE(gateway_->Admin({"status"}).output.find("pushes: accepted, 0 in flight"), std::string::npos);
  EXPECT_TRUE(Push(*alice_, dir, "drained").status.success());
}

// What a Kubernetes preStop hook and readiness probe do: drain, wait for the
// push in flight, and report not-ready meanwhile.
TEST_F(PushTest, DrainWaitsForThePushInFlightAndReadinessFollows) {
  gateway_->AdminOk({"app", "create", "slow-drain", "--member", "alice"});
  gateway_->SetBuild("slow-drain", "echo 'building slowly'; sleep 2");
  EXPECT_EQ(gateway_->Admin({"status", "--ready"}).status.code, 0);
  std::string dir = NewWorkTree("slow-drain", {{"a", "1"}});
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*alice_, {"push", gateway_->Url("slow-drain"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("building slowly")) << push->output();
  // The build sleeps 2 s: a 0 s wait gives up with the push still running.
  CapturedRun impatient = gateway_->Admin({"drain", "on", "--wait", "0s"});
  EXPECT_EQ(impatient.status.code, 1) << impatient.output;
  EXPECT_NE(impatient.output.find("1 push in flight"), std::string::npos) << impatient.output;
  CapturedRun ready = gateway_->Admin({"status", "--ready"});
  EXPECT_EQ(ready.status.code, 1) << ready.output;
  EXPECT_NE(ready.output.find("draining"), std::string::npos) << ready.output;
  CapturedRun patient = gateway_->Admin({"drain", "on", "--wait", "60s"});
  EXPECT_EQ(patient.status.code, 0) << patient.output;
  EXPECT_NE(patient.output.find("0 pushes in flight"), std::string::npos) << patient.output;
  EXPECT_TRUE(push->Finish().success()) << push->output();
  EXPECT_NE(push->output().find("slow-drain deployed"), std::string::npos) << push->output();
  CapturedRun misuse = gateway_->Admin({"drain", "off", "--wait", "1s"});
  EXPECT_NE(misuse.status.code, 0);
  EXPECT_NE(misuse.output.find("--wait goes with `drain on`"), std::string::npos) << misuse.output;
  gateway_->AdminOk({"drain", "off"});
  EXPECT_EQ(gateway_->Admin({"status", "--ready"}).status.code, 0);
}

TEST_F(PushTest, MembersCanCloneAndOthersCannot) {
  gateway_->AdminOk({"app", "create", "shared", "--member", "alice"});
  std::string commit;
  std::string dir = NewWorkTree("shared", {{"README", "shared code\n"}}, &commit);
  ASSERT_TRUE(Push(*alice_, dir, "shared").status.success());
  CapturedRun clone = gateway_->Git(*alice_, {"clone", "-q", gateway_->Url("shared"), work_ / "clone"}, work_.path());
  ASSERT_TRUE(clone.status.success()) << clone.output;
  EXPECT_EQ(ReadFile(work_ / "clone/README"), "shared code\n");
  // Protocol v2 (git's default for fetch) works through AcceptEnv GIT_PROTOCOL.
  CapturedRun v2 = gateway_->Git(*alice_, {"-c", "protocol.version=2", "ls-remote", gateway_->Url("shared")},
                                 work_.path());
  EXPECT_NE(v2.output.find(commit), std::string::npos) << v2.output;
  CapturedRun denied = gateway_->Git(*bob_, {"clone", "-q", gateway_->Url("shared"), work_ / "bob"}, work_.path());
  EXPECT_FALSE(denied.status.success());
  EXPECT_NE(denied.output.find("App shared does not exist or you do not have access to it"), std::string::npos)
      << denied.output;
  // Granting access takes effect on the next connection.
  gateway_->AdminOk({"app", "grant", "shared", "bob"});
  EXPECT_TRUE(gateway_->Git(*bob_, {"clone", "-q", gateway_->Url("shared"), work_ / "bob2"}, work_.path())
                  .status.success());
}

TEST_F(PushTest, RegistryFilesBelongToTheGitUser) {
  struct stat st;
  ASSERT_EQ(::stat((gateway_->data_dir() + "/db/data.mdb").c_str(), &st), 0);
  struct stat dir;
  ASSERT_EQ(::stat(gateway_->data_dir().c_str(), &dir), 0);
  EXPECT_NE(st.st_uid, 0u);
  EXPECT_EQ(st.st_uid, dir.st_uid);
  ASSERT_EQ(::stat((gateway_->data_dir() + "/db/lock.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, dir.st_uid);
}

TEST_F(PushTest, AdminCliWorksAsGitUserAndRefusesOtherUsers) {
  std::string pushgate = gateway_->prefix() + "/bin/pushgate";
  CapturedRun as_git = RunCommand({"runuser", "-u", Gateway::kGitUser, "--", pushgate, "--config",
                            gateway_->config_path(), "user", "add", "dave"});
  EXPECT_TRUE(as_git.status.success()) << as_git.output;
  CapturedRun as_nobody = RunCommand({"runuser", "-u", "nobody", "--", pushgate, "--config", gateway_->config_path(),
                               "user", "ls"});
  EXPECT_EQ(as_nobody.status.code, 1);
  EXPECT_NE(as_nobody.output.find("run pushgate as root or as " + std::string(Gateway::kGitUser)),
            std::string::npos)
      << as_nobody.output;
  EXPECT_NE(gateway_->AdminOk({"user", "ls"}).find("dave"), std::string::npos);
}

TEST_F(PushTest, AdminRefusalsAreOneLineWithNonZeroExit) {
  const std::vector<std::vector<std::string>> bad = {
      {"user", "add", "Bad Name"},
      {"app", "create", "../x"},
      {"app", "create", "ok-app", "--member", "ghost"},
      {"key", "add", "ghost", keys_->path() + "/alice.pub"},
      {"key", "add", "bob", keys_->path() + "/alice.pub"},  // alice's key
      {"key", "rm", "SHA256:nope"},
      {"app", "grant", "missing-app", "alice"},
  };
  for (const auto& args : bad) {
    CapturedRun run = gateway_->Admin(args);
    EXPECT_EQ(run.status.code, 1) << args[0] << " " << args[1] << ": " << run.output;
    EXPECT_EQ(run.output.rfind("pushgate: ", 0), 0u) << run.output;
    EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  }
  EXPECT_EQ(gateway_->AdminOk({"app", "ls"}).find("ok-app"), std::string::npos);
}

TEST_F(PushTest, BackupWhileServingIsARestorableRegistry) {
  std::string backup = work_ / "registry.mdb";
  gateway_->AdminOk({"backup", backup});
  TempDir restore;
  ASSERT_TRUE(MakeDirs(restore / "db", 0700).ok());
  RunOk({"cp", backup, restore / "db/data.mdb"});
  WriteFile(restore / "pushgate.toml", "data_dir = \"" + restore.path() + "\"\ngit_user = \"root\"\n");
  std::string users = RunOk({gateway_->prefix() + "/bin/pushgate", "--config", restore / "pushgate.toml", "user", "ls"});
  EXPECT_NE(users.find("alice"), std::string::npos) << users;
}

// A standalone gateway as it ships: no build command, so the hook writes
// the release itself, straight from the repository (no archive, no
// pushgate-deploy process).
class BundledDeployTest : public SharedGatewayTest<BundledDeployTest> {
 public:
  static GatewayOptions Options() { return {}; }

 protected:
  TempDir work_;
};

TEST_F(BundledDeployTest, TheHookDeploysTheExactTreeWithItsModesAndTimes) {
  gateway_->AdminOk({"app", "create", "bundled", "--member", "alice"});
  std::string dir = work_ / "bundled";
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  MakeRepoWithCommit(dir, {{"index.html", "<h1>v1</h1>\n"}, {"bin/start", "#!/bin/sh\necho up\n"}, {"big.bin", big}});
  RunOk({"chmod", "+x", dir + "/bin/start"});
  ASSERT_EQ(::symlink("index.html", (dir + "/entry").c_str()), 0);
  std::string commit = CommitFiles(dir, {}, "exec bit, link");
  CapturedRun push = gateway_->Git(*alice_, {"push", gateway_->Url("bundled"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> bundled deployed: v1 (" + commit.substr(0, 7) + ")"), std::string::npos)
      << push.output;

  std::string current = gateway_->data_dir() + "/releases/bundled/current";
  RunOk({"git", "clone", "-q", dir, work_ / "expected"}, GitEnv());
  RunOk({"rm", "-rf", work_ / "expected/.git"});
  CapturedRun diff = RunCommand({"diff", "-r", "--no-dereference", work_ / "expected", current + "/"});
  EXPECT_TRUE(diff.status.success()) << diff.output;
  struct stat st;
  ASSERT_EQ(::stat((current + "/bin/start").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((current + "/index.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  std::string commit_time = RunOk({"git", "-C", dir, "log", "-1", "--format=%ct"});
  EXPECT_EQ(std::to_string(st.st_mtime) + "\n", commit_time) << "files carry the commit's time";
  Result<std::vector<std::string>> tmp = ListDir(gateway_->data_dir() + "/tmp");
  EXPECT_TRUE(!tmp.ok() || tmp->empty()) << "nothing is archived for the bundled deploy";

  CapturedRun logs = gateway_->Ssh(*alice_, {"127.0.0.1", "logs", "bundled"});
  EXPECT_NE(logs.output.find("bundled deployed: v1"), std::string::npos) << logs.output;
  std::string second = CommitFiles(dir, {{"index.html", "<h1>v2</h1>\n"}}, "v2");
  push = gateway_->Git(*alice_, {"push", gateway_->Url("bundled"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> bundled deployed: v2 (" + second.substr(0, 7) + ")"), std::string::npos);
  EXPECT_EQ(ReadFile(current + "/index.html"), "<h1>v2</h1>\n");
}

// A file larger than the hook's memory: its contents go to the release in
// pieces (through git cat-file), so the hook's peak RSS, from its "hook
// finished" log line, stays below the file's size instead of above it.
TEST_F(BundledDeployTest, AFileLargerThanTheHooksMemoryIsStreamedToTheRelease) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan keeps freed memory in its quarantine, so RSS says nothing about streaming here";
#endif
  gateway_->AdminOk({"app", "create", "bundled-big", "--member", "alice"});
  std::string dir = work_ / "bundled-big";
  MakeRepoWithCommit(dir, {{"README", "big\n"}});
  const size_t size = size_t{96} << 20;
  std::string big(size, '\0');
  uint64_t state = 88172645463325252u;
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(&big[i], &state, 8);
  }
  WriteFile(dir + "/big.bin", big);
  RunOk({"git", "add", "big.bin"}, GitEnv(), dir);
  RunOk({"git", "-c", "core.compression=0", "commit", "-qm", "big"}, GitEnv(), dir);
  CapturedRun push = gateway_->Git(*alice_, {"push", gateway_->Url("bundled-big"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  CapturedRun same = RunCommand({"cmp", dir + "/big.bin", gateway_->data_dir() + "/releases/bundled-big/current/big.bin"});
  EXPECT_TRUE(same.status.success()) << same.output;

  std::string log = ReadFile(gateway_->data_dir() + "/pushgate.log");
  size_t line = log.rfind("\"msg\":\"hook finished\"");
  ASSERT_NE(line, std::string::npos);
  size_t start = log.rfind('\n', line);
  std::string finished = log.substr(start + 1, log.find('\n', line) - start - 1);
  ASSERT_NE(finished.find("\"app\":\"bundled-big\""), std::string::npos) << finished;
  size_t at = finished.find("\"peak_rss_kb\":\"");
  ASSERT_NE(at, std::string::npos) << finished;
  long peak_kb = std::stol(finished.substr(at + 15));
  EXPECT_LT(static_cast<size_t>(peak_kb) * 1024, size / 2) << "the hook held the file in memory: " << finished;
}

}  // namespace
}  // namespace pushgate::testing
