// A complete pushgate gateway for end-to-end tests: installed with
// `cmake --install` into a fresh root-owned prefix under /opt (sshd refuses
// an AuthorizedKeysCommand whose path is writable by anyone but root), a
// private OpenSSH sshd on a free loopback port running the shipped sshd
// drop-in, a data_dir owned by the test git user, and clients that push with
// the real git and ssh. Needs root.
#ifndef PUSHGATE_TESTS_E2E_GATEWAY_H_
#define PUSHGATE_TESTS_E2E_GATEWAY_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/process.h"

namespace pushgate::testing {

// A git command running in the background in its own process group (so git
// and its ssh can be killed together), its output read as it arrives.
class LiveGit {
 public:
  LiveGit(pid_t pid, int out_fd) : pid_(pid), out_(out_fd) {}
  ~LiveGit();
  // Reads until `text` appears in the output or the output ends; true if it
  // appeared.
  bool ReadUntil(std::string_view text);
  // Reads the rest and waits for git to exit; after `timeout`, kills it
  // (and ssh) and fails the test, so a hung push cannot hang the suite.
  ExitStatus Finish(std::chrono::seconds timeout = std::chrono::seconds(120));
  // Kills git and ssh, as a pusher vanishing would, and reaps git.
  void Kill();
  // Stops git and ssh (SIGSTOP): a client that no longer reads or writes.
  void Stop();
  const std::string& output() const { return output_; }

 private:
  // Waits for output until `deadline`; false at the end of the output or
  // the deadline.
  bool ReadMore(std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  pid_t pid_;
  UniqueFd out_;
  std::string output_;
  bool reaped_ = false;
};

// Which SSH server fronts the gateway. The suite runs once per front end:
// ctest's e2e runs OpenSSH, e2e_pushgate_sshd sets PUSHGATE_E2E_FRONT_END.
enum class FrontEnd {
  kOpenSsh,       // sshd + pushgate-keys + pushgate-shell (pushgate-entrypoint gateway)
  kPushgateSshd,  // pushgate-sshd (pushgate-entrypoint sshd)
};
// The front end this run of the suite tests (PUSHGATE_E2E_FRONT_END).
FrontEnd SuiteFrontEnd();
// In a test that only one front end can run: skips it under the other, with
// the reason. Use as `if (OnlyFor(FrontEnd::kOpenSsh, "why")) GTEST_SKIP() << ...`
// through the macro below.
#define PUSHGATE_E2E_ONLY_FOR(front_end, why)                                       \
  if (::pushgate::testing::SuiteFrontEnd() != (front_end)) GTEST_SKIP() << (why)

struct GatewayOptions {
  FrontEnd front_end = SuiteFrontEnd();
  // Controller mode when set: the controller's URL (a FakeController's),
  // which also builds.
  std::string controller_url;
  std::string controller_token = "test-token";
  // Controller mode's build.driver: "pushgate" (the fake builds), "workflow"
  // (the stock hooks; the test build script writes the image result) or
  // "local".
  std::string build_driver = "pushgate";
  // [controller] connect_timeout and timeout, if set (e.g. "5s").
  std::string controller_connect_timeout;
  std::string controller_timeout;
  // The build command's script (after "#!/bin/sh"), root-owned like an
  // operator's.
  std::string build_script;
  // Without a build_script: true runs, as the build command, the app's own
  // steps if a test set some (SetBuild), then pushgate-deploy (from the
  // source archive); false (the default) leaves build.command unset, as a
  // standalone gateway ships, so the hook deploys in process.
  bool app_build_steps = false;
  // Extra keys of the [build] table (e.g. keepalive = "1s"); a timeout or a
  // command here replaces the default; @PREFIX@ becomes the install prefix.
  std::string build_options;
  // sshd_config lines included before the pushgate drop-in (e.g. a Match
  // block for another user, ending with "Match all"), through the
  // entrypoint's PUSHGATE_SSHD_INCLUDE.
  std::string extra_sshd_config;
  // Extra TOML appended to the generated config (e.g. a [cache] table).
  std::string extra_config;
  // If set, data_dir is a tmpfs of this many MiB, so a test can fill it.
  int data_dir_tmpfs_mb = 0;
};

// A loopback port nothing listens on right now.
int FreeLoopbackPort();

class Gateway {
 public:
  static constexpr const char* kGitUser = "pushgate-e2e";

  // Installs and starts everything; fails the test (ADD_FAILURE) on error.
  static std::unique_ptr<Gateway> Start(const GatewayOptions& options = {});
  ~Gateway();

  const std::string& prefix() const { return prefix_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_path() const { return config_path_; }
  int port() const { return port_; }
  FrontEnd front_end() const { return front_end_; }
  // The process that runs a session's steps, as ps names it, and the
  // program its log lines name.
  std::string SessionProcessName() const {
    return front_end_ == FrontEnd::kOpenSsh ? "pushgate-shell" : "pg-session";
  }
  std::string SessionProgramName() const {
    return front_end_ == FrontEnd::kOpenSsh ? "pushgate-shell" : "pushgate-sshd";
  }
  std::string host_key_dir() const { return prefix_ + "/host-keys"; }
  std::string sshd_log_path() const { return prefix_ + "/etc/sshd.log"; }
  // The rendered sshd_config the entrypoint runs sshd with.
  std::string sshd_config_path() const { return prefix_ + "/run/sshd_config"; }

  // What the tests set for pushgate-entrypoint (PUSHGATE_CONFIG, ...).
  std::map<std::string, std::string> EntrypointEnv() const;
  // Stops sshd and starts it again through the entrypoint, with `extra_env`
  // added to its environment (as a container restart would).
  bool RestartSshd(const std::map<std::string, std::string>& extra_env = {});
  void StopSshd();
  // SIGTERMs the SSH server and waits up to `timeout` for it to exit; its
  // exit status, or nullopt if it was still running (then it is killed).
  std::optional<ExitStatus> StopSshdWithin(std::chrono::seconds timeout);
  // The processes serving connections right now: sshd's per-connection
  // processes and everything they started (keys helpers, the shell, git, the
  // hook, builds), and anything else running as the git user (a build
  // orphaned by a killed hook). What a kill -9 test picks its victims from
  // and expects to be gone afterwards.
  struct ServerProcess {
    pid_t pid;
    std::string name;  // /proc/PID/comm
  };
  std::vector<ServerProcess> ServerProcesses() const;
  // Starts `pushgate-entrypoint COMPONENT` ("sync", "reaper") as root, as a
  // container would, with the gateway's environment plus `extra_env`; its
  // stdout and stderr go to `output_path` ("": /dev/null).
  Result<pid_t> StartSidecar(const std::string& component, const std::map<std::string, std::string>& extra_env,
                             const std::string& output_path) const;

  // Runs the admin CLI as root: `pushgate --config CONFIG args...`.
  CapturedRun Admin(const std::vector<std::string>& args) const;
  std::string AdminOk(const std::vector<std::string>& args) const;

  // Registers a user with a fresh key; returns the key.
  TestKey AddUserWithKey(const std::string& user, const std::string& key_dir) const;

  // ssh://git@127.0.0.1:PORT/APP.git
  std::string Url(const std::string& app) const;

  // Shell steps the default build runs for `app` before the bundled deploy
  // (sourced: `exit 3` fails the build, a step that never ends never
  // deploys). Builds of other apps only deploy.
  void SetBuild(const std::string& app, const std::string& steps);

  // Runs git (or ssh) as a client authenticating with `key`, bounded by a
  // 120 s timeout so a hang fails instead of blocking the suite.
  CapturedRun Git(const TestKey& key, const std::vector<std::string>& args, const std::string& cwd) const;
  CapturedRun Ssh(const TestKey& key, const std::vector<std::string>& args) const;
  // The ssh command line Ssh runs (before its own arguments), and the
  // environment it runs in, for tests that start ssh themselves.
  std::vector<std::string> SshArgv(const TestKey& key) const;
  std::map<std::string, std::string> SshEnv() const { return {{"HOME", client_home_}}; }
  std::map<std::string, std::string> GitClientEnv(const TestKey& key) const;
  // Starts git without waiting for it.
  std::unique_ptr<LiveGit> StartGit(const TestKey& key, const std::vector<std::string>& args,
                                    const std::string& cwd) const;
  // The commit `ref` of `app` points to on the gateway ("" if none), as
  // `key` sees it with ls-remote.
  std::string RemoteRef(const TestKey& key, const std::string& app, const std::string& ref = "refs/heads/main") const;

  // The release data_dir/releases/APP/current names ("" if none).
  std::string CurrentRelease(const std::string& app) const;
  // `git fsck --strict` of APP's repository on the gateway.
  CapturedRun FsckRepo(const std::string& app) const;

  // The sshd log and pushgate's own log, for failure messages.
  std::string Logs() const;

 private:
  Gateway() = default;
  bool Install(const GatewayOptions& options);
  bool StartSshd(const std::map<std::string, std::string>& extra_env);

  std::string build_dir_;
  std::string prefix_;
  std::string data_dir_;
  std::string config_path_;
  std::string client_home_;
  std::string extra_sshd_config_path_;
  bool app_build_steps_ = false;
  bool data_dir_mounted_ = false;
  FrontEnd front_end_ = FrontEnd::kOpenSsh;
  int port_ = 0;
  pid_t sshd_pid_ = -1;
};

// A test suite that shares one gateway, with alice registered. `Suite`
// gives the gateway's options through a static `GatewayOptions Options()`.
template <typename Suite>
class SharedGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir;
    gateway_ = Gateway::Start(Suite::Options()).release();
    if (gateway_ == nullptr) return;
    alice_ = new TestKey(gateway_->AddUserWithKey("alice", keys_->path()));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    delete alice_;
    delete keys_;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << gateway_->Logs();
  }

  static inline Gateway* gateway_ = nullptr;
  static inline TempDir* keys_ = nullptr;
  static inline TestKey* alice_ = nullptr;
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_E2E_GATEWAY_H_
