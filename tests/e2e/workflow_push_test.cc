// End-to-end: pushgate as the builder of a stock Deis Workflow / Hephy /
// Drycc controller (build.driver = "workflow"), against the fake in stock
// mode (none of pushgate's extensions, the real controller's quirks). The
// build command here stands in for an image build: it shows the config it
// was given and names an image; the controller makes the release.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include "tests/e2e/gateway.h"
#include "tests/fake_controller/fake_controller.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

// What each app's build does, so every test can see it here.
constexpr const char* kBuildScript =
    "echo \"-----> building $PUSHGATE_APP for $PUSHGATE_USER\"\n"
    "echo \"config: $(cat \"$PUSHGATE_APP_CONFIG\")\"\n"
    "case \"$PUSHGATE_APP\" in\n"
    "  failing) echo 'error: 3 tests failed' >&2; exit 3 ;;\n"
    "  imageless) exit 0 ;;\n"
    "  garbled) echo 'not json' > \"$PUSHGATE_BUILD_RESULT\"; exit 0 ;;\n"
    "esac\n"
    "printf '{\"image\": \"registry.test:5000/%s:git-%.8s\"}' \"$PUSHGATE_APP\" \"$PUSHGATE_SHA\""
    " > \"$PUSHGATE_BUILD_RESULT\"\n";

class WorkflowPushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FakeController::Options stock = FakeController::Stock();
    stock.drycc_permissions = true;
    fake_ = new FakeController(stock);
    keys_ = new TempDir;
    alice_ = new TestKey(MakeKey(keys_->path(), "alice"));
    fake_->AddKey("alice", alice_->public_line);
    GatewayOptions options;
    options.controller_url = fake_->url();
    options.build_driver = "workflow";
    options.build_script = kBuildScript;
    options.build_options = "keepalive = \"1s\"\n";
    gateway_ = Gateway::Start(options).release();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete fake_;
    delete alice_;
    delete keys_;
  }
  void SetUp() override { ASSERT_NE(gateway_, nullptr) << "the gateway did not start"; }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << gateway_->Logs();
  }

  CapturedRun Push(const TestKey& key, const std::string& dir, const std::string& app) {
    return gateway_->Git(key, {"push", gateway_->Url(app), "main"}, dir);
  }
  std::vector<FakeController::WorkflowBuildRecord> BuildsOf(const std::string& app) {
    std::vector<FakeController::WorkflowBuildRecord> out;
    for (const auto& b : fake_->WorkflowBuilds()) {
      if (b.app == app) out.push_back(b);
    }
    return out;
  }

  static inline Gateway* gateway_ = nullptr;
  static inline FakeController* fake_ = nullptr;
  static inline TempDir* keys_ = nullptr;
  static inline TestKey* alice_ = nullptr;
  TempDir work_;
};

TEST_F(WorkflowPushTest, APushBuildsWithTheConfigAndMakesTheNextRelease) {
  fake_->AddApp("web", {}, "alice");
  fake_->SetConfig("web", {{"DATABASE_URL", "postgres://db/web"}});
  std::string dir = work_ / "web";
  std::string commit = MakeRepoWithCommit(dir, {{"index.html", "hi\n"}});
  CapturedRun push = Push(*alice_, dir, "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> building web for alice"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("\"DATABASE_URL\":\"postgres://db/web\""), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> web released as v2"), std::string::npos) << push.output;
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "web"), commit);
  std::vector<FakeController::WorkflowBuildRecord> builds = BuildsOf("web");
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].username, "alice");
  EXPECT_EQ(builds[0].sha, commit.substr(0, 8));
  EXPECT_EQ(builds[0].image, "registry.test:5000/web:git-" + commit.substr(0, 8));
  EXPECT_EQ(builds[0].dockerfile, "");
  EXPECT_TRUE(builds[0].procfile.empty());

  CommitFiles(dir, {{"index.html", "v3\n"}}, "v3");
  push = Push(*alice_, dir, "web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_NE(push.output.find("-----> web released as v3"), std::string::npos) << push.output;
  EXPECT_EQ(fake_->Release("web"), 3);
}

TEST_F(WorkflowPushTest, TheProcfileAndTheDockerfileReachTheBuildHookExactly) {
  fake_->AddApp("procs", {"alice"});
  std::string dir = work_ / "procs";
  MakeRepoWithCommit(dir, {{"Procfile", "# two processes\nweb: bin/server --port $PORT\nworker: bin/worker -q 5\n"},
                           {"Dockerfile", "FROM scratch\nCOPY . /app\n"}});
  CapturedRun push = Push(*alice_, dir, "procs");
  ASSERT_TRUE(push.status.success()) << push.output;
  std::vector<FakeController::WorkflowBuildRecord> builds = BuildsOf("procs");
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].procfile, (std::map<std::string, std::string>{{"web", "bin/server --port $PORT"},
                                                                    {"worker", "bin/worker -q 5"}}));
  EXPECT_EQ(builds[0].dockerfile, "true");

  // A Procfile the controller would refuse never reaches it.
  CommitFiles(dir, {{"Procfile", "Web: bin/server\n"}}, "bad procfile");
  std::string before = gateway_->RemoteRef(*alice_, "procs");
  push = Push(*alice_, dir, "procs");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("Procfile line 1: the process type \"Web\" must be lowercase"), std::string::npos)
      << push.output;
  EXPECT_EQ(BuildsOf("procs").size(), 1u);
  EXPECT_EQ(gateway_->RemoteRef(*alice_, "procs"), before);
}

// Every way the build or the controller can refuse: one clear line, and the
// branch stays where it was.
TEST_F(WorkflowPushTest, RefusalsAreOneClearLineAndTheRefStays) {
  struct Case {
    std::string app;
    std::string fault_path;  // "" for none
    FakeController::Fault fault;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"failing", "", FakeController::Fault::kServerError, "Build failed (exit status 3)"},
      {"imageless", "", FakeController::Fault::kServerError, "the build finished but named no image"},
      {"garbled", "", FakeController::Fault::kServerError, "the build finished but named no image"},
      {"config-403", "/v2/hooks/config", FakeController::Fault::kForbidden, "App config-403 does not exist or you do not have access to it"},
      {"config-404", "/v2/hooks/config", FakeController::Fault::kNoSuchApp, "App config-404 does not exist or you do not have access to it"},
      {"config-503", "/v2/hooks/config", FakeController::Fault::kServerError,
       "the platform controller is unavailable, try again shortly"},
      {"build-403", "/v2/hooks/build", FakeController::Fault::kForbidden, "App build-403 does not exist or you do not have access to it"},
      {"build-404", "/v2/hooks/build", FakeController::Fault::kNoSuchApp, "App build-404 does not exist or you do not have access to it"},
      {"build-409", "/v2/hooks/build", FakeController::Fault::kConflict,
       "The platform refused the release: build b-7 of this app is running."},
      {"build-503", "/v2/hooks/build", FakeController::Fault::kServerError,
       "the platform could not release the build (the controller answered 503"},
  };
  for (const Case& c : cases) {
    fake_->AddApp(c.app, {"alice"});
    std::string dir = work_ / c.app;
    MakeRepoWithCommit(dir, {{"a", c.app}});
    // The shell's write check (the first config request) passes; the fault
    // hits the hook's own request.
    int skip = c.fault_path == "/v2/hooks/config" ? 1 : 0;
    if (!c.fault_path.empty()) fake_->InjectFault(c.fault_path, c.fault, 1, std::chrono::seconds(0), skip);
    CapturedRun push = Push(*alice_, dir, c.app);
    EXPECT_FALSE(push.status.success()) << c.app;
    EXPECT_NE(push.output.find(c.expected), std::string::npos) << c.app << ": " << push.output;
    EXPECT_EQ(push.output.find("<"), std::string::npos) << "markup reached the pusher: " << push.output;
    EXPECT_EQ(gateway_->RemoteRef(*alice_, c.app), "") << c.app;
    fake_->ClearFaults();
  }
}

// Drycc answers the key route (GET) for viewers; the push is refused by the
// stock write check before git receives a single object.
TEST_F(WorkflowPushTest, AViewerCanFetchButNotPushAndUploadsNothing) {
  fake_->AddApp("viewed", {"alice"});
  std::string dir = work_ / "viewed";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  ASSERT_TRUE(Push(*alice_, dir, "viewed").status.success());
  TestKey viewer = MakeKey(keys_->path(), "viewer");
  fake_->AddKey("viewer", viewer.public_line);
  fake_->AddViewer("viewed", "viewer");
  CapturedRun ls = gateway_->Git(viewer, {"ls-remote", gateway_->Url("viewed")}, "/");
  EXPECT_TRUE(ls.status.success()) << ls.output;
  std::string objects = gateway_->data_dir() + "/repos/viewed.git/objects";
  CapturedRun before = RunCommand({"find", objects, "-type", "f"});
  std::string big = work_ / "big";
  MakeRepoWithCommit(big, {{"payload", std::string(200000, 'v')}});
  CapturedRun push = Push(viewer, big, "viewed");
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("App viewed does not exist or you do not have access to it"), std::string::npos) << push.output;
  EXPECT_EQ(RunCommand({"find", objects, "-type", "f"}).output, before.output) << "objects were uploaded";
}

// Django's usernames, as Deis and Drycc have them, log in and push.
TEST_F(WorkflowPushTest, DottedAndUppercaseUserNamesPush) {
  for (const std::string user : {"first.last", "Alice", "ops+ci@example.com"}) {
    std::string app = "names-" + std::to_string(user.size());
    TestKey key = MakeKey(keys_->path(), "names-" + app);
    fake_->AddKey(user, key.public_line);
    fake_->AddApp(app, {user});
    std::string dir = work_ / app;
    MakeRepoWithCommit(dir, {{"a", user}});
    CapturedRun push = Push(key, dir, app);
    EXPECT_TRUE(push.status.success()) << user << ": " << push.output;
    EXPECT_NE(push.output.find("-----> building " + app + " for " + user), std::string::npos) << push.output;
    ASSERT_FALSE(BuildsOf(app).empty()) << user;
    EXPECT_EQ(BuildsOf(app)[0].username, user);
    CapturedRun ls = gateway_->Git(key, {"ls-remote", gateway_->Url(app)}, "/");
    EXPECT_TRUE(ls.status.success()) << user << ": " << ls.output;
  }
}

// The key lookup lists every app of a Workflow cluster.
TEST_F(WorkflowPushTest, FiftyThousandAppsInTheKeyLookupStillLogIn) {
  TestKey carol = MakeKey(keys_->path(), "carol");
  fake_->AddKey("carol", carol.public_line);
  for (int i = 0; i < 50000; ++i) fake_->AddApp("filler-" + std::to_string(i), {});
  fake_->AddApp("crowded", {"carol"});
  std::string dir = work_ / "crowded";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  CapturedRun push = Push(carol, dir, "crowded");
  EXPECT_TRUE(push.status.success()) << push.output;
}

// A real image build: pushgate-build-image builds a Dockerfile app with
// buildah and pushes it to a registry on loopback (Debian's docker-registry),
// and the release the controller makes names that image.
class ImageBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> registry_bin = FindSystemProgram("docker-registry");
    if (!registry_bin.ok() || !FindSystemProgram("buildah").ok()) {
      GTEST_SKIP() << "buildah or docker-registry is not installed (scripts/bootstrap installs both)";
    }
    registry_port_ = FreeLoopbackPort();
    WriteFile(work_ / "registry.yml", "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                                      "    rootdirectory: " + work_.path() + "/registry\nhttp:\n  addr: 127.0.0.1:" +
                                      std::to_string(registry_port_) + "\n");
    SpawnSpec spec{*registry_bin, {"docker-registry", "serve", work_ / "registry.yml"}, {"PATH=/usr/bin:/bin"},
                   -1, -1, -1, false, ""};
    Result<pid_t> pid = Spawn(spec);
    ASSERT_TRUE(pid.ok()) << pid.status().ToString();
    registry_pid_ = *pid;
    fake_.AddKey("alice", alice_.public_line);
    GatewayOptions options;
    options.controller_url = fake_.url();
    options.build_driver = "workflow";
    options.build_options = "command = \"@PREFIX@/libexec/pushgate/pushgate-build-image\"\n"
                            "registry = \"" + Registry() + "\"\nkeepalive = \"1s\"\ntimeout = \"3m\"\n";
    gateway_ = Gateway::Start(options);
    ASSERT_NE(gateway_, nullptr);
    // The registry speaks plain HTTP; builds run with HOME = data_dir, so
    // this is the git user's own containers configuration.
    std::string containers = gateway_->data_dir() + "/.config/containers";
    ASSERT_TRUE(MakeDirs(containers, 0755).ok());
    WriteFile(containers + "/registries.conf", "[[registry]]\nlocation = \"" + Registry() + "\"\ninsecure = true\n");
    RunOk({"chown", "-R", std::string(Gateway::kGitUser) + ":", gateway_->data_dir() + "/.config"});
  }
  void TearDown() override {
    if (HasFailure() && gateway_ != nullptr) std::cerr << gateway_->Logs();
    if (registry_pid_ > 0) {
      ::kill(registry_pid_, SIGTERM);
      (void)WaitForExit(registry_pid_);
    }
  }
  std::string Registry() const { return "127.0.0.1:" + std::to_string(registry_port_); }

  TempDir work_;
  FakeController fake_{FakeController::Stock()};
  TestKey alice_ = MakeKey(work_.path(), "alice");
  std::unique_ptr<Gateway> gateway_;
  int registry_port_ = 0;
  pid_t registry_pid_ = -1;
};

TEST_F(ImageBuildTest, ADockerfileAppIsBuiltPushedAndReleased) {
  fake_.AddApp("shop", {"alice"});
  std::string dir = work_ / "shop";
  std::string commit = MakeRepoWithCommit(dir, {{"Dockerfile", "FROM scratch\nCOPY index.html /srv/index.html\n"},
                                                {"index.html", "<h1>shop</h1>\n"},
                                                {"Procfile", "web: /srv/serve\n"}});
  CapturedRun push = gateway_->Git(alice_, {"push", gateway_->Url("shop"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  std::string image = Registry() + "/shop:git-" + commit.substr(0, 8);
  EXPECT_NE(push.output.find("-----> Building image " + image), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("-----> shop released as v2"), std::string::npos) << push.output;
  std::vector<FakeController::WorkflowBuildRecord> builds = fake_.WorkflowBuilds();
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].image, image);
  EXPECT_EQ(builds[0].dockerfile, "true");
  EXPECT_EQ(builds[0].procfile, (std::map<std::string, std::string>{{"web", "/srv/serve"}}));
  httplib::Client registry("127.0.0.1", registry_port_);
  httplib::Result tags = registry.Get("/v2/shop/tags/list");
  ASSERT_TRUE(tags) << "the registry did not answer";
  EXPECT_NE(tags->body.find("\"git-" + commit.substr(0, 8) + "\""), std::string::npos) << tags->body;
}

TEST_F(ImageBuildTest, AnAppWithoutADockerfileFailsSayingWhy) {
  fake_.AddApp("plain", {"alice"});
  std::string dir = work_ / "plain";
  MakeRepoWithCommit(dir, {{"app.rb", "puts 1\n"}});
  CapturedRun push = gateway_->Git(alice_, {"push", gateway_->Url("plain"), "main"}, dir);
  EXPECT_FALSE(push.status.success());
  EXPECT_NE(push.output.find("plain has no Dockerfile: pushgate-build-image builds Dockerfile apps only"),
            std::string::npos)
      << push.output;
  EXPECT_TRUE(fake_.WorkflowBuilds().empty());
}

}  // namespace
}  // namespace pushgate::testing
