// pushgate-sshd as clients and peers really treat it: OpenSSH's client with
// legacy algorithms, scripted paramiko clients that misbehave on purpose
// (tests/e2e/sshd_client.py), handshakes that never finish, PROXY headers
// from trusted and untrusted peers, per-user limits and a SIGTERM during a
// push. The scenarios both front ends share run in every other e2e suite
// (ctest's e2e_pushgate_sshd); these run there only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kPython[] = "/usr/bin/python3";  // Debian's, with python3-paramiko
const std::string kClientScript = std::string(PUSHGATE_SOURCE_DIR) + "/tests/e2e/sshd_client.py";

// A TCP connection to the gateway from `source` (127.0.0.x), or an invalid fd.
UniqueFd ConnectFrom(uint32_t source, int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(source);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    return UniqueFd();
  }
  return fd;
}

// Everything the server sends until it closes or `timeout` passes; sets
// *closed when it closed.
std::string ReadUntilClosed(int fd, std::chrono::seconds timeout, bool* closed) {
  std::string got;
  auto deadline = Clock::now() + timeout;
  *closed = false;
  while (Clock::now() < deadline) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      *closed = true;
      break;
    }
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return got;
}

class SshdTest : public SharedGatewayTest<SshdTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    options.extra_config =
        "[sshd]\n"
        "login_grace_time = \"3s\"\n"
        "proxy_protocol = \"optional\"\n"
        "proxy_trusted = [\"127.0.0.1\"]\n";
    return options;
  }

 protected:
  void SetUp() override {
    PUSHGATE_E2E_ONLY_FOR(FrontEnd::kPushgateSshd, "pushgate-sshd's own protocol tests");
    SharedGatewayTest<SshdTest>::SetUp();
  }

  CapturedRun Script(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"timeout", "60", kPython, kClientScript};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, gateway_->SshEnv());
  }

  // `program args...` as the git user, with `env`; a second server beside
  // the gateway's.
  Result<pid_t> SpawnAsGitUser(const std::vector<std::string>& command, const std::map<std::string, std::string>& env) {
    const struct passwd* git = ::getpwnam(Gateway::kGitUser);
    SpawnSpec spec{"/usr/bin/setpriv",
                   {"setpriv", "--reuid=" + std::to_string(git->pw_uid), "--regid=" + std::to_string(git->pw_gid),
                    "--init-groups"},
                   {"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, -1, -1, -1, false, ""};
    spec.argv.insert(spec.argv.end(), command.begin(), command.end());
    for (const auto& [k, v] : env) SetEnv(spec.env, k, v);
    return Spawn(spec);
  }

  // ls-remote of a new app on the server at `address`, retried while it
  // starts.
  void ExpectServing(const std::string& address, const std::string& app) {
    gateway_->AdminOk({"app", "create", app, "--member", "alice"});
    std::string url = "ssh://" + std::string(Gateway::kGitUser) + "@" + address + "/" + app + ".git";
    CapturedRun ls;
    for (int i = 0; i < 100; ++i) {
      ls = gateway_->Git(*alice_, {"ls-remote", url}, "/");
      if (ls.status.success()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(ls.status.success()) << ls.output;
  }

  // SIGTERM, which a server must obey (exit 0) within a few seconds.
  void ExpectStops(pid_t server) {
    ::kill(server, SIGTERM);
    Result<std::optional<ExitStatus>> exited = WaitForExitUntil(server, std::chrono::seconds(15));
    ASSERT_TRUE(exited.ok() && exited->has_value()) << "pushgate-sshd did not stop on SIGTERM";
    EXPECT_TRUE((*exited)->success()) << (*exited)->Describe();
  }

  // ls-remote through sshd_client.py's PROXY relay.
  CapturedRun LsRemoteThroughProxy(const std::string& app, const std::string& version, const std::string& bind) {
    std::map<std::string, std::string> env = gateway_->GitClientEnv(*alice_);
    env["GIT_SSH_COMMAND"] += " -o ProxyCommand='" + std::string(kPython) + " " + kClientScript + " proxy-relay " +
                              std::to_string(gateway_->port()) + " " + version + " 203.0.113.9 4242" +
                              (bind.empty() ? "" : " " + bind) + "'";
    return RunCommand({"timeout", "60", "git", "ls-remote", gateway_->Url(app)}, env, "/");
  }
};

TEST_F(SshdTest, ClientsOfferingOnlyLegacyAlgorithmsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> legacy = {
      {"KexAlgorithms=diffie-hellman-group14-sha1", "Unable to negotiate with 127.0.0.1 port"},
      {"KexAlgorithms=diffie-hellman-group14-sha1", "no matching key exchange method found"},
      {"Ciphers=aes128-cbc", "no matching cipher"},
      {"MACs=hmac-sha1", "no matching MAC"},
      {"HostKeyAlgorithms=ssh-rsa", "no matching host key type"},
  };
  // ssh says "Unable to negotiate" at INFO, which the usual LogLevel=ERROR hides.
  std::vector<std::string> ssh = {"timeout", "60"};
  for (const std::string& arg : gateway_->SshArgv(*alice_)) ssh.push_back(arg == "LogLevel=ERROR" ? "LogLevel=INFO" : arg);
  for (const auto& [option, said] : legacy) {
    std::vector<std::string> args = ssh;
    if (option.rfind("MACs", 0) == 0) args.insert(args.end(), {"-o", "Ciphers=aes128-ctr"});
    args.insert(args.end(), {"-o", option, "127.0.0.1", "git-upload-pack 'web'"});
    CapturedRun run = RunCommand(args, gateway_->SshEnv());
    EXPECT_FALSE(run.status.success()) << option;
    EXPECT_NE(run.output.find(said), std::string::npos) << option << ": " << run.output;
  }
  // The modern defaults connect, with strict key exchange (Terrapin).
  std::vector<std::string> verbose = ssh;
  verbose.insert(verbose.end(), {"-vv", "127.0.0.1", "git-upload-pack 'nope'"});
  CapturedRun modern = RunCommand(verbose, gateway_->SshEnv());
  EXPECT_NE(modern.output.find("does not exist or you do not have access to it"), std::string::npos)
      << modern.output;
  EXPECT_NE(modern.output.find("kex-strict-s-v00@openssh.com"), std::string::npos) << "no strict KEX:\n"
                                                                                   << modern.output;
}

// RSA signatures with SHA-1 (ssh-rsa) are refused unless the operator opts
// in (sshd.allow_sha1_signatures); the same key signing with SHA-2 works.
TEST_F(SshdTest, Sha1RsaSignaturesAreRefused) {
  TestKey rsa = MakeKey(keys_->path(), "carol", "rsa", 3072);
  gateway_->AdminOk({"user", "add", "carol"});
  gateway_->AdminOk({"key", "add", "carol", rsa.private_path + ".pub"});
  CapturedRun sha1 = gateway_->Ssh(rsa, {"-o", "PubkeyAcceptedAlgorithms=ssh-rsa", "127.0.0.1", "git-upload-pack 'x'"});
  EXPECT_FALSE(sha1.status.success());
  EXPECT_NE(sha1.output.find("Permission denied (publickey)"), std::string::npos) << sha1.output;
  CapturedRun sha2 = gateway_->Ssh(rsa, {"127.0.0.1", "git-upload-pack 'x'"});
  EXPECT_NE(sha2.output.find("App x does not exist or you do not have access to it"), std::string::npos)
      << sha2.output;
}

// CVE-2024-45337's class: the key a client offers first is not who it is;
// the session belongs to the key whose signature the server verified.
TEST_F(SshdTest, TheIdentityIsTheKeyThatSignedNotTheKeyOffered) {
  gateway_->AdminOk({"app", "create", "alices", "--member", "alice"});
  TestKey bob = gateway_->AddUserWithKey("bob", keys_->path());
  CapturedRun run = Script({"swap-key", std::to_string(gateway_->port()), Gateway::kGitUser, alice_->private_path,
                            bob.private_path, "git-receive-pack 'alices'"});
  EXPECT_NE(run.output.find("pk_ok=1"), std::string::npos) << run.output;  // alice's key was acceptable
  EXPECT_NE(run.output.find("exit=1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("App alices does not exist or you do not have access to it"), std::string::npos)
      << run.output;
  EXPECT_FALSE(PathExists(gateway_->data_dir() + "/repos/alices.git"));
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("\"user\":\"bob\",\"key\":\"" + bob.sha256),
            std::string::npos);
}

// libssh's CVE-2018-10933: a client that says "authentication succeeded"
// itself gets no session.
TEST_F(SshdTest, AClientClaimingSuccessItselfGetsNoSession) {
  CapturedRun run = Script({"fake-success", std::to_string(gateway_->port()), Gateway::kGitUser,
                            "git-upload-pack 'web'"});
  EXPECT_NE(run.output.find("refused"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("ACCEPTED"), std::string::npos) << run.output;
}

// A client that connects and never finishes the handshake is cut at
// sshd.login_grace_time (3 s here), and others are served meanwhile.
TEST_F(SshdTest, AStalledHandshakeIsCutAtTheLoginGraceTime) {
  UniqueFd silent = ConnectFrom(0x7f000003, gateway_->port());
  ASSERT_TRUE(silent.valid());
  UniqueFd half = ConnectFrom(0x7f000003, gateway_->port());
  ASSERT_TRUE(half.valid());
  const std::string banner = "SSH-2.0-stalled\r\n";
  ASSERT_EQ(::send(half.get(), banner.data(), banner.size(), 0), static_cast<ssize_t>(banner.size()));
  gateway_->AdminOk({"app", "create", "graced", "--member", "alice"});
  CapturedRun ls = gateway_->Git(*alice_, {"ls-remote", gateway_->Url("graced")}, "/");
  EXPECT_TRUE(ls.status.success()) << ls.output;
  for (int fd : {silent.get(), half.get()}) {
    bool closed = false;
    std::string got = ReadUntilClosed(fd, std::chrono::seconds(15), &closed);
    EXPECT_TRUE(closed) << "still open after the login grace time";
    // The one that sent its banner got the server's (the silent one may not:
    // with a PROXY header allowed, the server reads first).
    if (fd == half.get()) {
      EXPECT_NE(got.find("SSH-2.0-"), std::string::npos);
    }
  }
}

// `ssh -N` authenticates and asks for nothing: it holds a slot without a
// session, so it is cut like any login that does not get to a session.
TEST_F(SshdTest, ALoginWithoutASessionIsCutAtTheLoginGraceTime) {
  auto start = Clock::now();
  CapturedRun run = gateway_->Ssh(*alice_, {"-N", "127.0.0.1"});
  EXPECT_FALSE(run.status.success());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30)) << run.output;
}

TEST_F(SshdTest, ProxyHeadersFromTrustedPeersNameTheRealClient) {
  gateway_->AdminOk({"app", "create", "proxied", "--member", "alice"});
  for (const std::string version : {"v1", "v2"}) {
    CapturedRun ls = LsRemoteThroughProxy("proxied", version, "");
    EXPECT_TRUE(ls.status.success()) << version << ": " << ls.output;
  }
  std::string log = ReadFile(gateway_->data_dir() + "/pushgate.log");
  EXPECT_NE(log.find("\"client\":\"203.0.113.9 4242\""), std::string::npos) << log.substr(log.size() - 3000);
}

TEST_F(SshdTest, ProxyHeadersFromUntrustedPeersAreRefused) {
  gateway_->AdminOk({"app", "create", "untrusted", "--member", "alice"});
  // 127.0.0.2 is not in sshd.proxy_trusted: its header could claim anyone.
  CapturedRun ls = LsRemoteThroughProxy("untrusted", "v1", "127.0.0.2");
  EXPECT_FALSE(ls.status.success()) << ls.output;
  // A broken header from a trusted peer is closed too, before any banner.
  UniqueFd broken = ConnectFrom(INADDR_LOOPBACK, gateway_->port());
  ASSERT_TRUE(broken.valid());
  const std::string header = "PROXY TCP4 203.0.113.9 nowhere 1 2\r\n";
  ASSERT_EQ(::send(broken.get(), header.data(), header.size(), 0), static_cast<ssize_t>(header.size()));
  bool closed = false;
  std::string got = ReadUntilClosed(broken.get(), std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.find("SSH-2.0-"), std::string::npos) << got;
  // Without a header (proxy_protocol = "optional") the TCP peer is the client.
  CapturedRun direct = gateway_->Git(*alice_, {"ls-remote", gateway_->Url("untrusted")}, "/");
  EXPECT_TRUE(direct.status.success()) << direct.output;
}

TEST_F(SshdTest, HostKeysAreMadeOnceWithPrivateModes) {
  std::string dir = gateway_->data_dir() + "/sshd";
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"ssh_host_ed25519_key", "ssh_host_rsa_key"}) {
    ASSERT_EQ(::stat((dir + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  std::string before = ReadFile(dir + "/ssh_host_ed25519_key");
  ASSERT_TRUE(gateway_->RestartSshd());
  EXPECT_EQ(ReadFile(dir + "/ssh_host_ed25519_key"), before);
  std::string log = ReadFile(gateway_->data_dir() + "/pushgate.log");
  EXPECT_NE(log.find("\"msg\":\"host key\""), std::string::npos);  // loaded, not created, on the restart
}

// The image's `pushgate-entrypoint sshd` started as the git user (a pod's
// runAsUser): no root anywhere, no capabilities, and it serves pushes.
TEST_F(SshdTest, TheEntrypointRunsItWithoutRoot) {
  int port = FreeLoopbackPort();
  std::map<std::string, std::string> env = gateway_->EntrypointEnv();
  env["PUSHGATE_SSH_PORT"] = std::to_string(port);
  Result<pid_t> pid = SpawnAsGitUser({gateway_->prefix() + "/libexec/pushgate/pushgate-entrypoint", "sshd"}, env);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  ExpectServing("127.0.0.1:" + std::to_string(port), "rootless");
  // Checked while it serves: the entrypoint has become pushgate-sshd by then.
  std::string status = ReadFile("/proc/" + std::to_string(*pid) + "/status");
  std::string uid = std::to_string(::getpwnam(Gateway::kGitUser)->pw_uid);
  EXPECT_NE(status.find("\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"), std::string::npos)
      << status;
  EXPECT_NE(status.find("\nCapEff:\t0000000000000000\n"), std::string::npos) << status;
  ExpectStops(*pid);
}

// systemd's socket activation: the listening socket arrives as fd 3 with
// LISTEN_FDS=1 and LISTEN_PID naming the server (systemd-socket-activate
// sets both as a .socket unit would), and sshd.listen is not used.
TEST_F(SshdTest, ASocketFromSystemdIsServed) {
  std::string address = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  Result<pid_t> pid = SpawnAsGitUser({"/usr/bin/systemd-socket-activate", "-l", address,
                                      gateway_->prefix() + "/libexec/pushgate/pushgate-sshd", "--config",
                                      gateway_->config_path()},
                                     {});
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  ExpectServing(address, "activated");
  ExpectStops(*pid);
  EXPECT_NE(ReadFile(gateway_->data_dir() + "/pushgate.log").find("the socket systemd passed"), std::string::npos);
}

// A gateway of its own: these tests change limits or stop the server.
class SshdOwnGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { PUSHGATE_E2E_ONLY_FOR(FrontEnd::kPushgateSshd, "pushgate-sshd's own limits and drain"); }

  std::unique_ptr<Gateway> Start(const std::string& sshd_table) {
    GatewayOptions options;
    options.extra_config = "[sshd]\n" + sshd_table;
    options.app_build_steps = true;  // builds that hold a push in flight
    std::unique_ptr<Gateway> gateway = Gateway::Start(options);
    if (gateway != nullptr) alice_ = gateway->AddUserWithKey("alice", keys_.path());
    return gateway;
  }

  // A push of a new app whose build prints "building-now" and then runs
  // `then`; returns once the build has started.
  std::unique_ptr<LiveGit> StartBuildingPush(Gateway& gateway, const std::string& app, const std::string& then) {
    gateway.AdminOk({"app", "create", app, "--member", "alice"});
    gateway.SetBuild(app, "echo building-now; " + then);
    std::string dir = work_ / app;
    MakeRepoWithCommit(dir, {{"a", "1"}});
    std::unique_ptr<LiveGit> push = gateway.StartGit(alice_, {"push", gateway.Url(app), "HEAD:main"}, dir);
    if (push != nullptr && !push->ReadUntil("building-now")) ADD_FAILURE() << "no build: " << push->output();
    return push;
  }

  TempDir keys_;
  TempDir work_;
  TestKey alice_;
};

TEST_F(SshdOwnGatewayTest, PerUserLimitsSayWhenToTryAgain) {
  std::unique_ptr<Gateway> gateway = Start("max_sessions_per_minute = 2\n");
  ASSERT_NE(gateway, nullptr);
  gateway->AdminOk({"app", "create", "limited", "--member", "alice"});
  for (int i = 0; i < 2; ++i) {
    CapturedRun ls = gateway->Git(alice_, {"ls-remote", gateway->Url("limited")}, "/");
    EXPECT_TRUE(ls.status.success()) << ls.output;
  }
  CapturedRun third = gateway->Git(alice_, {"ls-remote", gateway->Url("limited")}, "/");
  EXPECT_FALSE(third.status.success());
  const std::string said =
      "alice started 2 sessions in the last minute, the most allowed (sshd.max_sessions_per_minute); try again in ";
  EXPECT_NE(third.output.find(said), std::string::npos) << third.output;
}

// SIGTERM while a push builds: the push lands, new connections are refused
// at once, and the server exits within sshd.grace_period.
TEST_F(SshdOwnGatewayTest, SigtermLetsThePushInFlightLandAndRefusesNewConnections) {
  std::unique_ptr<Gateway> gateway = Start("grace_period = \"20s\"\n");
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<LiveGit> push = StartBuildingPush(*gateway, "draining", "sleep 3");
  ASSERT_NE(push, nullptr);
  std::thread stop([&] {
    auto start = Clock::now();
    std::optional<ExitStatus> exited = gateway->StopSshdWithin(std::chrono::seconds(20));
    EXPECT_TRUE(exited.has_value()) << "still running after the grace period";
    if (exited) {
      EXPECT_TRUE(exited->success());
    }
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(20));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CapturedRun refused = gateway->Git(alice_, {"ls-remote", gateway->Url("draining")}, "/");
  EXPECT_FALSE(refused.status.success());
  EXPECT_NE(refused.output.find("Connection refused"), std::string::npos) << refused.output;
  ExitStatus pushed = push->Finish();
  EXPECT_TRUE(pushed.success()) << push->output();
  stop.join();
  EXPECT_EQ(gateway->CurrentRelease("draining").empty(), false);
}

// A push still building when the grace period ends is stopped cleanly: the
// pusher is told why, the app's lock is freed, the ref stays where it was,
// and the server exits soon after the grace period.
TEST_F(SshdOwnGatewayTest, APushOutlivingTheGracePeriodEndsCleanly) {
  std::unique_ptr<Gateway> gateway = Start("grace_period = \"2s\"\n");
  ASSERT_NE(gateway, nullptr);
  std::unique_ptr<LiveGit> push = StartBuildingPush(*gateway, "slow", "sleep 60");
  ASSERT_NE(push, nullptr);
  auto start = Clock::now();
  std::optional<ExitStatus> exited = gateway->StopSshdWithin(std::chrono::seconds(15));
  EXPECT_TRUE(exited.has_value()) << "pushgate-sshd still running 15 s after SIGTERM";
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(9));  // 2 s of grace, then at most 5 s to stop
  ExitStatus pushed = push->Finish();
  EXPECT_FALSE(pushed.success());
  EXPECT_NE(push->output().find("pushgate: the push was stopped because the gateway is shutting down; try again shortly"),
            std::string::npos)
      << push->output();
  EXPECT_TRUE(LockFreedWithin(gateway->data_dir() + "/locks/slow.lock", std::chrono::seconds(10)));
  std::string repo = gateway->data_dir() + "/repos/slow.git";
  CapturedRun ref = RunCommand({"git", "-c", "safe.directory=*", "--git-dir", repo, "rev-parse", "--verify", "-q",
                                "refs/heads/main"});
  EXPECT_FALSE(ref.status.success()) << "the ref moved: " << ref.output;
  CapturedRun repo_ok = RunCommand({"git", "-c", "safe.directory=*", "--git-dir", repo, "rev-parse", "--git-dir"});
  EXPECT_TRUE(repo_ok.status.success()) << repo_ok.output;  // so the refusal above is about the ref
}

// Past sshd.max_unauthenticated a connection is closed at accept: the
// client is told nothing more than that, the counters say why.
TEST_F(SshdOwnGatewayTest, ConnectionsPastTheUnauthenticatedLimitAreClosedAtOnce) {
  std::unique_ptr<Gateway> gateway = Start("max_unauthenticated = 1\n");
  ASSERT_NE(gateway, nullptr);
  UniqueFd holder = ConnectFrom(0x7f000002, gateway->port());
  ASSERT_TRUE(holder.valid());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // accepted and counted
  CapturedRun refused = gateway->Ssh(alice_, {"127.0.0.1", "git-upload-pack 'x'"});
  EXPECT_FALSE(refused.status.success());
  std::vector<std::string> argv = {"timeout", "60"};
  for (const std::string& arg : gateway->SshArgv(alice_)) argv.push_back(arg == "LogLevel=ERROR" ? "LogLevel=INFO" : arg);
  argv.insert(argv.end(), {"127.0.0.1", "git-upload-pack 'x'"});
  refused = RunCommand(argv, gateway->SshEnv());
  // Closed before the client's banner was read (a FIN) or after (a reset),
  // as OpenSSH's own MaxStartups refusals look.
  bool closed = refused.output.find("kex_exchange_identification: Connection closed by remote host") !=
                    std::string::npos ||
                refused.output.find("kex_exchange_identification: read: Connection reset by peer") != std::string::npos;
  EXPECT_TRUE(closed) << refused.output;
  EXPECT_NE(ReadFile(gateway->data_dir() + "/pushgate.log")
                .find("refused a connection: sshd.max_unauthenticated reached"),
            std::string::npos);
  holder.Reset();
  CapturedRun later;
  for (int i = 0; i < 50; ++i) {  // once the holder's process has ended
    later = gateway->Ssh(alice_, {"127.0.0.1", "git-upload-pack 'x'"});
    if (later.output.find("does not exist") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(later.output.find("App x does not exist or you do not have access to it"), std::string::npos)
      << later.output;
}

}  // namespace
}  // namespace pushgate::testing
