// Interoperability with the real Deis Workflow controller (teamhephy's
// Django app, unmodified), run on loopback by ../shared/workflow-controller
// without Kubernetes. pushgate is its builder (build.driver = "workflow"):
// owners and collaborators push and the controller makes real releases,
// non-members and unknown apps are refused, config reaches the build,
// revocations and removed keys stop working, and the reaper removes the
// repository of a deleted app and nothing else. Skipped, saying why, where
// the controller's directory or its Debian packages are absent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

constexpr const char* kBuilderKey = "interop-builder-key";

// The build stands in for an image build: it shows the config and names an image.
constexpr const char* kBuildScript =
    "echo \"config: $(cat \"$PUSHGATE_APP_CONFIG\")\"\n"
    "printf '{\"image\": \"127.0.0.1:5000/%s:git-%.8s\"}' \"$PUSHGATE_APP\" \"$PUSHGATE_SHA\""
    " > \"$PUSHGATE_BUILD_RESULT\"\n";

std::string ControllerDir() { return std::string(PUSHGATE_SOURCE_DIR) + "/../shared/workflow-controller"; }

// Why the real controller cannot run here, or "" if it can.
std::string Unavailable() {
  if (!PathExists(ControllerDir() + "/run.sh")) return ControllerDir() + " is not there";
  for (const char* needed : {"/usr/lib/postgresql/15/bin/initdb", "/usr/bin/gunicorn"}) {
    if (!PathExists(needed)) return std::string(needed) + " is missing: run " + ControllerDir() + "/setup.sh";
  }
  if (!RunCommand({"/usr/bin/python3", "-c", "import django, rest_framework, guardian"}).status.success()) {
    return "Django is missing: run " + ControllerDir() + "/setup.sh";
  }
  return "";
}

class RealControllerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = Unavailable();
    if (!skip_.empty()) return;
    work_ = new TempDir;
    ::chmod(work_->path().c_str(), 0755);
    // Workflow names a key by its comment, which must differ between a user's keys.
    for (const char* user : {"alice", "bob", "mallory", "first.last"}) {
      keys_[user] = MakeKey(work_->path(), user, "ed25519", 0, std::string(user) + "@interop");
    }
    std::string seed = "{\"users\": [";
    bool first = true;
    for (const auto& [user, key] : keys_) {
      seed += std::string(first ? "" : ",") + "{\"username\": \"" + user + "\", \"keys\": [\"" + key.public_line + "\"]}";
      first = false;
    }
    seed +=
        "], \"apps\": [{\"id\": \"web\", \"owner\": \"alice\", \"collaborators\": [\"bob\", \"first.last\"], "
        "\"config\": {\"GREETING\": \"hello\"}}, {\"id\": \"old\", \"owner\": \"alice\"}]}";
    WriteFile(work_->path() + "/seed.json", seed);
    port_ = FreeLoopbackPort();
    UniqueFd log(::open((work_->path() + "/controller.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    SpawnSpec spec{"/bin/bash",
                   {"bash", ControllerDir() + "/run.sh", std::to_string(port_), kBuilderKey, work_->path() + "/seed.json"},
                   {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"},
                   -1, log.get(), log.get(), true, ""};
    Result<pid_t> pid = Spawn(spec);
    if (!pid.ok()) {
      skip_ = "cannot start the controller: " + pid.status().ToString();
      return;
    }
    controller_pid_ = *pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline && !Healthy()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    if (!Healthy()) return;
    GatewayOptions options;
    options.controller_url = "http://127.0.0.1:" + std::to_string(port_);
    options.controller_token = kBuilderKey;
    options.build_driver = "workflow";
    options.build_script = kBuildScript;
    options.build_options = "keepalive = \"1s\"\n";
    // No delta feed on a stock controller: keys are looked up one by one,
    // and trusted for a second so revocations show at once.
    options.extra_config = "[cache]\npositive_ttl = \"1s\"\nnegative_ttl = \"1s\"\n"
                           "[reaper]\ngrace = \"0s\"\nmax_fraction = 1.0\n";
    gateway_ = Gateway::Start(options).release();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    if (controller_pid_ > 0) {
      ::kill(controller_pid_, SIGTERM);  // run.sh stops gunicorn and postgres and removes its state
      (void)WaitForExitUntil(controller_pid_, std::chrono::seconds(60));
    }
    delete work_;
    work_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << "the real Workflow controller cannot run here: " << skip_;
    ASSERT_TRUE(Healthy()) << "the controller did not come up:\n" << ReadFile(work_->path() + "/controller.log");
    ASSERT_NE(gateway_, nullptr);
  }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) {
      std::cerr << gateway_->Logs() << "--- controller.log (tail)\n";
      std::string log = ReadFile(work_->path() + "/controller.log");
      std::cerr << (log.size() > 4000 ? log.substr(log.size() - 4000) : log);
    }
  }

  static bool Healthy() {
    return RunCommand({"/usr/bin/python3", "-c",
                       "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:" +
                           std::to_string(port_) + "/healthz', timeout=2).status == 200 else 1)"})
        .status.success();
  }
  // Runs Python against the controller with its seeding helpers (run.sh exec).
  static std::string Exec(const std::string& code) {
    CapturedRun run = RunCommand({"/bin/bash", ControllerDir() + "/run.sh", "exec", std::to_string(port_), code});
    EXPECT_TRUE(run.status.success()) << code << ": " << run.output;
    return run.output;
  }
  static int LatestRelease(const std::string& app) {
    std::string out = Exec("print('release', models.App.objects.get(id='" + app +
                           "').release_set.filter(failed=False).latest().version)");
    size_t at = out.rfind("release ");
    return at == std::string::npos ? -1 : std::atoi(out.c_str() + at + 8);
  }
  CapturedRun Push(const std::string& user, const std::string& dir, const std::string& app) {
    return gateway_->Git(keys_[user], {"push", gateway_->Url(app), "main"}, dir);
  }

  static inline std::string skip_;
  static inline TempDir* work_ = nullptr;
  static inline std::map<std::string, TestKey> keys_;
  static inline int port_ = 0;
  static inline pid_t controller_pid_ = -1;
  static inline Gateway* gateway_ = nullptr;
  TempDir tree_;
};

TEST_F(RealControllerTest, OwnerAndCollaboratorsPushAndTheControllerReleases) {
  int before = LatestRelease("web");
  std::string dir = tree_ / "web";
  std::string commit = MakeRepoWithCommit(dir, {{"Procfile", "web: ./serve\n"}, {"index.html", "v1\n"}});
  CapturedRun push = Push("alice", dir, "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("\"GREETING\":\"hello\""), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> web released as v" + std::to_string(before + 1)), std::string::npos)
      << push.output;
  EXPECT_EQ(LatestRelease("web"), before + 1);
  std::string build = Exec("b = models.App.objects.get(id='web').build_set.latest(); print('build', b.image, b.sha, "
                           "b.owner.username, b.procfile)");
  EXPECT_NE(build.find("build 127.0.0.1:5000/web:git-" + commit.substr(0, 8) + " " + commit.substr(0, 8) + " alice"),
            std::string::npos)
      << build;
  EXPECT_NE(build.find("'web': './serve'"), std::string::npos) << build;

  for (const std::string user : {"bob", "first.last"}) {
    CommitFiles(dir, {{"index.html", user + "\n"}}, "by " + user);
    push = Push(user, dir, "web");
    EXPECT_TRUE(push.status.success()) << user << ": " << push.output;
    EXPECT_NE(push.output.find("-----> web released as v"), std::string::npos) << push.output;
  }
  EXPECT_EQ(LatestRelease("web"), before + 3);
}

TEST_F(RealControllerTest, NonMembersAndUnknownAppsAreRefused) {
  std::string dir = tree_ / "refused";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  CapturedRun push = Push("mallory", dir, "web");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App web does not exist or you do not have access to it"), std::string::npos) << push.output;
  push = Push("alice", dir, "nope");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App nope does not exist or you do not have access to it"), std::string::npos) << push.output;
  EXPECT_EQ(push.output.find("<"), std::string::npos) << push.output;
}

TEST_F(RealControllerTest, ConfigSetOnTheControllerReachesTheBuild) {
  Exec("set_config('web', {'FEATURE_FLAG': 'on'})");
  std::string dir = tree_ / "config";
  MakeRepoWithCommit(dir, {{"index.html", "config\n"}});
  CapturedRun push = gateway_->Git(keys_["alice"], {"push", "--force", gateway_->Url("web"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("\"FEATURE_FLAG\":\"on\""), std::string::npos) << push.output;
}

TEST_F(RealControllerTest, ARevokedCollaboratorAndARemovedKeyStopWorking) {
  std::string dir = tree_ / "revoked";
  MakeRepoWithCommit(dir, {{"index.html", "revoked\n"}});
  Exec("revoke('web', 'bob')");
  CapturedRun push = gateway_->Git(keys_["bob"], {"push", "--force", gateway_->Url("web"), "main"}, dir);
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App web does not exist or you do not have access to it"), std::string::npos) << push.output;
  Exec("remove_key('first.last', '" + keys_["first.last"].public_line + "')");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past cache.positive_ttl
  push = gateway_->Git(keys_["first.last"], {"ls-remote", gateway_->Url("web")}, "/");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("Permission denied (publickey)"), std::string::npos) << push.output;
}

TEST_F(RealControllerTest, TheReaperRemovesADeletedAppsRepositoryAndNothingElse) {
  std::string dir = tree_ / "old";
  MakeRepoWithCommit(dir, {{"index.html", "old\n"}});
  ASSERT_TRUE(Push("alice", dir, "old").status.success());
  std::string repos = gateway_->data_dir() + "/repos";
  ASSERT_TRUE(PathExists(repos + "/old.git"));
  ASSERT_TRUE(PathExists(repos + "/web.git"));
  Exec("delete_app('old')");
  CapturedRun reap = RunCommand({"runuser", "-u", Gateway::kGitUser, "--", gateway_->prefix() +
                                 "/libexec/pushgate/pushgate-reaper", "--config", gateway_->config_path(), "--once"});
  EXPECT_TRUE(reap.status.success()) << reap.output;
  EXPECT_FALSE(PathExists(repos + "/old.git")) << reap.output;
  EXPECT_TRUE(PathExists(repos + "/web.git")) << reap.output;
}

}  // namespace
}  // namespace pushgate::testing
