// End-to-end: pushgate-entrypoint, the container image's entrypoint, which
// every end-to-end gateway starts sshd through. These tests cover what the
// image relies on it for: host keys made once and kept, the rendered
// sshd_config, config validation, data_dir ownership, drain on restart and
// the sidecars' privilege drop.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

class EntrypointTest : public SharedGatewayTest<EntrypointTest> {
 public:
  static GatewayOptions Options() { return {}; }

 protected:
  std::string Entrypoint() const { return gateway_->prefix() + "/libexec/pushgate/pushgate-entrypoint"; }

  // Runs the entrypoint to completion with the gateway's environment plus
  // `env` (for invocations that must exit before starting anything).
  CapturedRun RunEntrypoint(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    std::map<std::string, std::string> all = gateway_->EntrypointEnv();
    for (const auto& [k, v] : env) all[k] = v;
    std::vector<std::string> argv = {"timeout", "60", Entrypoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, all);
  }

  // A first push to a new app `name`.
  void PushWorks(const std::string& name) {
    gateway_->AdminOk({"app", "create", name, "--member", "alice"});
    std::string dir = work_ / name;
    MakeRepoWithCommit(dir, {{"app.txt", name + "\n"}});
    CapturedRun push = gateway_->Git(*alice_, {"push", gateway_->Url(name), "main"}, dir);
    EXPECT_TRUE(push.status.success()) << push.output;
  }

  // The host keys sshd presents over the network ("TYPE BLOB" lines, sorted).
  std::string ScanHostKeys() {
    CapturedRun scan =
        RunCommand({"ssh-keyscan", "-p", std::to_string(gateway_->port()), "-t", "ed25519,rsa", "127.0.0.1"});
    std::istringstream lines(scan.output);
    std::string line;
    std::set<std::string> keys;
    while (std::getline(lines, line)) {
      if (!line.empty() && line[0] != '#') keys.insert(line.substr(line.find(' ') + 1));
    }
    std::string out;
    for (const std::string& key : keys) out += key + "\n";
    return out;
  }

  TempDir work_;
};

TEST_F(EntrypointTest, HostKeysAreMadeOnceAndSurviveARestart) {
  PUSHGATE_E2E_ONLY_FOR(FrontEnd::kOpenSsh, "OpenSSH's host keys; pushgate-sshd's are tested by SshdTest.HostKeysAreMadeOnceWithPrivateModes");
  for (const char* type : {"ed25519", "rsa"}) {
    std::string key = gateway_->host_key_dir() + "/ssh_host_" + type + "_key";
    struct stat st;
    ASSERT_EQ(::stat(key.c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
    EXPECT_EQ(st.st_uid, 0u) << key;
  }
  struct stat dir;
  ASSERT_EQ(::stat(gateway_->host_key_dir().c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);

  std::string before = ScanHostKeys();
  ASSERT_NE(before.find("ssh-ed25519 "), std::string::npos) << before;
  ASSERT_NE(before.find("ssh-rsa "), std::string::npos) << before;
  std::string ed25519_pub = ReadFile(gateway_->host_key_dir() + "/ssh_host_ed25519_key.pub");
  std::string blob = ed25519_pub.substr(0, ed25519_pub.find(' ', ed25519_pub.find(' ') + 1));
  EXPECT_NE(before.find(blob), std::string::npos) << "sshd does not serve the key in the volume";

  ASSERT_TRUE(gateway_->RestartSshd());
  EXPECT_EQ(ScanHostKeys(), before) << "a restart changed the host identity";
  EXPECT_EQ(ReadFile(gateway_->host_key_dir() + "/ssh_host_ed25519_key.pub"), ed25519_pub);
  PushWorks("after-restart");
}

// A host install to a non-default prefix: the drop-in cmake --install wrote
// must name the helper under that prefix (it used to name /usr/local, the
// configured one, and every pusher got "Permission denied (publickey)").
// sshd runs with exactly that file, changed only in the two values an
// operator with another git user and config path changes.
TEST_F(EntrypointTest, TheInstalledDropInServesPushesFromItsInstallPrefix) {
  PUSHGATE_E2E_ONLY_FOR(FrontEnd::kOpenSsh, "the sshd_config drop-in is OpenSSH's");
  std::string installed = ReadFile(gateway_->prefix() + "/share/pushgate/sshd_config.d/pushgate.conf");
  std::string helper = gateway_->prefix() + "/libexec/pushgate/pushgate-keys";
  ASSERT_NE(installed.find("    AuthorizedKeysCommand " + helper + " --config /etc/pushgate/pushgate.toml"),
            std::string::npos)
      << installed;
  EXPECT_NE(installed.find("Placeholders (written @NAME@)"), std::string::npos) << "the comment lost its text";
  std::string drop_in = installed;
  // Every occurrence, as an operator's sed would: the keys and the
  // principals helpers both name the config and run as the git user.
  auto replace_all = [&drop_in](const std::string& from, const std::string& to) {
    size_t at = drop_in.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    for (; at != std::string::npos; at = drop_in.find(from, at + to.size())) {
      drop_in.replace(at, from.size(), to);
    }
  };
  replace_all("Match User git\n", std::string("Match User ") + Gateway::kGitUser + "\n");
  replace_all("--config /etc/pushgate/pushgate.toml", "--config " + gateway_->config_path());
  replace_all("CommandUser git\n", std::string("CommandUser ") + Gateway::kGitUser + "\n");
  WriteFile(work_ / "pushgate.conf", drop_in);
  int port = FreeLoopbackPort();
  WriteFile(work_ / "sshd_config", "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\nHostKey " +
                                       gateway_->host_key_dir() + "/ssh_host_ed25519_key\nPidFile " + work_.path() +
                                       "/sshd.pid\nUsePAM no\nInclude " + work_.path() + "/pushgate.conf\n");
  ::chmod(work_.path().c_str(), 0755);
  UniqueFd log(::open((work_ / "sshd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  SpawnSpec sshd{"/usr/sbin/sshd", {"/usr/sbin/sshd", "-D", "-e", "-f", work_ / "sshd_config"}, {"PATH=/usr/bin:/bin"},
                 -1, log.get(), log.get(), false, ""};
  Result<pid_t> pid = Spawn(sshd);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  for (int i = 0; i < 200 && !PathExists(work_ / "sshd.pid"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  gateway_->AdminOk({"app", "create", "prefixed", "--member", "alice"});
  std::string dir = work_ / "prefixed";
  MakeRepoWithCommit(dir, {{"app.txt", "prefixed\n"}});
  std::string url = "ssh://" + std::string(Gateway::kGitUser) + "@127.0.0.1:" + std::to_string(port) + "/prefixed.git";
  CapturedRun push = gateway_->Git(*alice_, {"push", url, "main"}, dir);
  ::kill(*pid, SIGTERM);
  (void)WaitForExit(*pid);
  EXPECT_TRUE(push.status.success()) << push.output << ReadFile(work_ / "sshd.log");
  EXPECT_NE(push.output.find("prefixed deployed: v1"), std::string::npos) << push.output;
}

// A typo in the configuration of a live gateway locks every pusher out;
// the reason must reach sshd's log (its helper's stderr), whatever the log
// destination says.
TEST_F(EntrypointTest, AConfigTypoOnALiveGatewayShowsInSshdsLog) {
  PUSHGATE_E2E_ONLY_FOR(FrontEnd::kOpenSsh, "pushgate-sshd reads its configuration once, at start; a bad file stops the start (SshdTest.ABadConfigStopsTheStartSayingWhy)");
  std::string good = ReadFile(gateway_->config_path());
  WriteFile(gateway_->config_path(), "data_dri = \"/srv\"\n" + good);
  CapturedRun ls = gateway_->Git(*alice_, {"ls-remote", gateway_->Url("whatever")}, "/");
  WriteFile(gateway_->config_path(), good);
  EXPECT_NE(ls.output.find("Permission denied (publickey)"), std::string::npos) << ls.output;
  std::string sshd_log = ReadFile(gateway_->sshd_log_path());
  EXPECT_NE(sshd_log.find("pushgate-keys: cannot load config: " + gateway_->config_path()), std::string::npos)
      << sshd_log.substr(sshd_log.size() > 3000 ? sshd_log.size() - 3000 : 0);
  EXPECT_NE(sshd_log.find(":1: unknown key data_dri"), std::string::npos);
}

TEST_F(EntrypointTest, RenderedSshdConfigLocksTheGitUserDown) {
  PUSHGATE_E2E_ONLY_FOR(FrontEnd::kOpenSsh, "the rendered sshd_config is OpenSSH's; pushgate-sshd's refusals are in SshdProtocolTest");
  CapturedRun effective =
      RunCommand({"/usr/sbin/sshd", "-T", "-f", gateway_->sshd_config_path(), "-C",
                  std::string("user=") + Gateway::kGitUser + ",host=client.example,addr=127.0.0.1"});
  ASSERT_TRUE(effective.status.success()) << effective.output;
  std::string prefix = gateway_->prefix();
  for (const std::string& line : {
           std::string("listenaddress 127.0.0.1:") + std::to_string(gateway_->port()),
           std::string("allowusers ") + Gateway::kGitUser,
           std::string("authorizedkeysfile none"),
           "authorizedkeyscommand " + prefix + "/libexec/pushgate/pushgate-keys --config " +
               gateway_->config_path() + " %u %f %t %k",
           std::string("authorizedkeyscommanduser ") + Gateway::kGitUser,
           std::string("authenticationmethods publickey"),
           std::string("passwordauthentication no"),
           std::string("kbdinteractiveauthentication no"),
           std::string("permitrootlogin no"),
           std::string("permittty no"),
           std::string("permituserrc no"),
           std::string("permittunnel no"),
           std::string("x11forwarding no"),
           // Overrides the allow*forwarding settings, which -T still prints.
           std::string("disableforwarding yes"),
           std::string("acceptenv GIT_PROTOCOL"),
           std::string("usepam no"),
           // Bounds a peer that stops cooperating cannot stretch (issue 13).
           std::string("logingracetime 30"),
           std::string("maxstartups 100:30:200"),
           std::string("persourcemaxstartups 50"),
           std::string("persourcenetblocksize 32:128"),
           std::string("maxauthtries 6"),
           std::string("clientaliveinterval 30"),
           std::string("clientalivecountmax 4"),
           std::string("channeltimeout session:*=10m"),
           std::string("unusedconnectiontimeout 60"),
       }) {
    EXPECT_NE(effective.output.find("\n" + line + "\n"), std::string::npos) << "missing: " << line;
  }
  EXPECT_NE(effective.output.find("hostkey " + gateway_->host_key_dir() + "/ssh_host_ed25519_key\n"),
            std::string::npos);
}

TEST_F(EntrypointTest, RefusesAnInvalidConfigBeforeStartingAnything) {
  std::string bad = work_ / "bad.toml";
  WriteFile(bad, ReadFile(gateway_->config_path()) + "colour = \"red\"\n");
  CapturedRun invalid = RunEntrypoint({"gateway"}, {{"PUSHGATE_CONFIG", bad}});
  EXPECT_FALSE(invalid.status.success());
  EXPECT_NE(invalid.output.find("colour"), std::string::npos) << invalid.output;
  EXPECT_NE(invalid.output.find("does not work here"), std::string::npos) << invalid.output;
  EXPECT_EQ(invalid.output.find("sshd listening"), std::string::npos) << invalid.output;

  // Valid, but naming an account this machine does not have.
  std::string stranger = work_ / "stranger.toml";
  std::string text = ReadFile(gateway_->config_path());
  text.replace(text.find(std::string("git_user = \"") + Gateway::kGitUser), 12 + std::string(Gateway::kGitUser).size(),
               "git_user = \"nosuchuser");
  WriteFile(stranger, text);
  CapturedRun no_account = RunEntrypoint({"gateway"}, {{"PUSHGATE_CONFIG", stranger}});
  EXPECT_FALSE(no_account.status.success());
  EXPECT_NE(no_account.output.find("git_user: there is no account named nosuchuser"), std::string::npos)
      << no_account.output;
  EXPECT_EQ(no_account.output.find("sshd listening"), std::string::npos) << no_account.output;

  CapturedRun missing = RunEntrypoint({"gateway"}, {{"PUSHGATE_CONFIG", work_ / "nowhere.toml"}});
  EXPECT_FALSE(missing.status.success());
  EXPECT_NE(missing.output.find("no configuration at " + (work_ / "nowhere.toml")), std::string::npos)
      << missing.output;

  CapturedRun port = RunEntrypoint({"gateway"}, {{"PUSHGATE_SSH_PORT", "22;id"}});
  EXPECT_FALSE(port.status.success());
  EXPECT_NE(port.output.find("must be a port number"), std::string::npos) << port.output;

}

TEST_F(EntrypointTest, RestoredDataDirIsGivenBackToTheGitUser) {
  gateway_->StopSshd();
  // As a restore from backup by root would leave it.
  RunOk({"chown", "-R", "root:root", gateway_->data_dir()});
  ASSERT_TRUE(gateway_->RestartSshd());
  struct passwd* git = ::getpwnam(Gateway::kGitUser);
  ASSERT_NE(git, nullptr);
  for (const std::string& path : {gateway_->data_dir(), gateway_->data_dir() + "/db/data.mdb",
                                  gateway_->data_dir() + "/db/lock.mdb"}) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, git->pw_uid) << path;
    EXPECT_EQ(st.st_gid, git->pw_gid) << path;
  }
  EXPECT_NE(ReadFile(gateway_->sshd_log_path()).find("giving it to " + std::string(Gateway::kGitUser)),
            std::string::npos);
  PushWorks("after-restore");
}

TEST_F(EntrypointTest, RestartResumesADrainedGatewayUnlessToldToKeepIt) {
  gateway_->AdminOk({"drain", "on"});
  ASSERT_TRUE(gateway_->RestartSshd({{"PUSHGATE_START_DRAINED", "1"}}));
  EXPECT_NE(gateway_->AdminOk({"drain"}).find("draining"), std::string::npos);
  ASSERT_TRUE(gateway_->RestartSshd());
  EXPECT_NE(gateway_->AdminOk({"drain"}).find("accepting pushes"), std::string::npos);
  PushWorks("after-drain");
}

// `pushgate-entrypoint reaper`, started as root as a container would start
// it, runs the reaper loop as git_user and stops cleanly on SIGTERM.
TEST_F(EntrypointTest, SidecarRunsAsTheGitUserAndStopsOnSigterm) {
  std::string out_path = work_ / "reaper.out";
  Result<pid_t> pid = gateway_->StartSidecar("reaper", {}, out_path);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  bool ran = false;
  for (int i = 0; i < 400 && !ran; ++i) {
    ran = ReadFile(out_path).find("\"scanned\"") != std::string::npos;
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(ran) << ReadFile(out_path);
  std::string status = ReadFile("/proc/" + std::to_string(*pid) + "/status");
  struct passwd* git = ::getpwnam(Gateway::kGitUser);
  std::string uid = std::to_string(git->pw_uid);
  EXPECT_NE(status.find("\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\n"), std::string::npos)
      << status;
  EXPECT_NE(status.find("\nCapEff:\t0000000000000000\n"), std::string::npos) << status;
  ::kill(*pid, SIGTERM);
  Result<ExitStatus> exit = WaitForExit(*pid);
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << ReadFile(out_path);
}

// The value of one sample line ("NAME{LABELS} VALUE") of a /metrics page.
double Sample(const std::string& page, const std::string& series) {
  size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + series.size() + 2));
}

// The reaper sidecar, started through the entrypoint with
// PUSHGATE_METRICS_LISTEN as the image would, serves the counters that the
// forced shell, the hook and the keys helper's slow path add to.
TEST_F(EntrypointTest, SidecarServesMetricsOfPushesAndKeyLookups) {
  int port = FreeLoopbackPort();
  std::string out_path = work_ / "metrics-reaper.out";
  Result<pid_t> pid =
      gateway_->StartSidecar("reaper", {{"PUSHGATE_METRICS_LISTEN", "127.0.0.1:" + std::to_string(port)}}, out_path);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  httplib::Client client("127.0.0.1", port);
  auto scrape = [&] {
    for (int i = 0; i < 200; ++i) {
      if (auto response = client.Get("/metrics"); response && response->status == 200) return response->body;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no /metrics on port " << port << ":\n" << ReadFile(out_path);
    return std::string();
  };
  std::string before = scrape();

  PushWorks("metered");
  TestKey stranger = MakeKey(work_.path(), "stranger");
  EXPECT_FALSE(gateway_->Git(stranger, {"ls-remote", gateway_->Url("metered")}, "/").status.success());

  std::string after = scrape();
  auto delta = [&](const std::string& series) { return Sample(after, series) - Sample(before, series); };
  EXPECT_EQ(delta("pushgate_key_lookups_total{result=\"hit\"}"), 1) << after;  // one session
  EXPECT_GE(delta("pushgate_key_lookups_total{result=\"denied\"}"), 1) << after;
  EXPECT_EQ(delta("pushgate_sessions_total{kind=\"push\"}"), 1) << after;
  EXPECT_EQ(delta("pushgate_pushes_total{outcome=\"deployed\"}"), 1) << after;
  EXPECT_EQ(delta("pushgate_builds_total{outcome=\"succeeded\"}"), 1) << after;
  EXPECT_EQ(delta("pushgate_push_duration_seconds_count"), 1) << after;
  EXPECT_GT(delta("pushgate_push_duration_seconds_sum"), 0) << after;
  EXPECT_GE(Sample(after, "pushgate_reaper_runs_total{result=\"ok\"}"), 1) << after;
  EXPECT_GE(Sample(after, "pushgate_repos"), 1) << after;
  EXPECT_EQ(Sample(after, "pushgate_health"), 0) << after;
  if (gateway_->front_end() == FrontEnd::kPushgateSshd) {
    // The push and the stranger's attempt: two connections accepted; the
    // listener's gauges as it set them (the stranger's connection is over).
    EXPECT_GE(delta("pushgate_sshd_connections_total{result=\"accepted\"}"), 2) << after;
    EXPECT_GE(delta("pushgate_sshd_connections_total{result=\"auth_failed\"}"), 1) << after;
    EXPECT_EQ(Sample(after, "pushgate_sshd_unauthenticated_limit"), 100) << after;
    EXPECT_GE(Sample(after, "pushgate_sshd_handshake_duration_seconds_count"), 2) << after;
    EXPECT_GE(Sample(after, "pushgate_sshd_auth_duration_seconds_count"), 1) << after;
  }

  ::kill(*pid, SIGTERM);
  Result<ExitStatus> exit = WaitForExit(*pid);
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(exit->success()) << exit->Describe() << "\n" << ReadFile(out_path);
}

}  // namespace
}  // namespace pushgate::testing
