#include "session/session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/stat.h>

#include "data-dir/drain.h"
#include "tests/testing/testing.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::TempDir;

class FakeBackend : public Backend {
 public:
  Status Authorize(std::string_view app, std::string_view user, const Credential& key, Access) override {
    std::string_view fingerprint = key.fingerprint;
    ++calls;
    last_fingerprint = std::string(fingerprint);
    if (app == "missing") return Status::NotFound("App missing does not exist");
    if (user != "alice") return Status::PermissionDenied("You do not have access to " + std::string(app));
    if (app == "flaky") return Status::Unavailable("the platform controller is unavailable, try again shortly");
    if (app == "broken") return Status::IOError("disk on fire");
    return Status::OK();
  }
  std::vector<AppState> CheckApps(const std::vector<std::string>& apps) override {
    return std::vector<AppState>(apps.size(), AppState::kExists);
  }
  int calls = 0;
  std::string last_fingerprint;
};

class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = "/etc/pushgate/pushgate.toml";
    config_.data_dir = dir_.path();
    config_.push.lock_timeout = std::chrono::milliseconds(300);
    // The ssh session: the client's ends stay open unless a test closes them.
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    session_in_.Reset(p[0]);
    client_writes_.Reset(p[1]);
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    client_reads_.Reset(p[0]);
    session_out_.Reset(p[1]);
  }

  SessionRequest Request(std::optional<std::string> command, const std::string& user = "alice",
                         std::optional<std::string> protocol = std::nullopt) {
    SessionRequest request{user, "SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI", std::move(command),
                           std::move(protocol), "req123", "192.0.2.7 51234", "/opt/pg/libexec/pushgate"};
    request.session_fd = session_out_.get();
    request.session_in_fd = session_in_.get();
    return request;
  }

  SessionDecision Decide(std::optional<std::string> command, const std::string& user = "alice",
                         std::optional<std::string> protocol = std::nullopt) {
    return DecideSession(config_, backend_, Request(std::move(command), user, std::move(protocol)),
                         [this](std::string_view line) { notices_.emplace_back(line); });
  }

  static std::string EnvValue(const SpawnSpec& spec, const std::string& name) {
    for (const std::string& e : spec.env) {
      if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
    }
    return "<unset>";
  }

  TempDir dir_;
  Config config_;
  FakeBackend backend_;
  std::vector<std::string> notices_;
  UniqueFd session_in_, client_writes_, client_reads_, session_out_;
};

// The steps one by one, as a second SSH front end calls them.
TEST_F(ShellTest, TheStepsCalledOneByOneServeAPushAndAFetch) {
  auto notify = [this](std::string_view line) { notices_.emplace_back(line); };
  SessionRequest push_request = Request(std::string("git-receive-pack 'web.git'"));
  GitCommand push;
  ASSERT_FALSE(ParseRequest(config_, push_request, &push).has_value());
  EXPECT_EQ(push.app, "web");
  EXPECT_EQ(push.service, GitService::kReceivePack);
  ASSERT_FALSE(AuthorizeRequest(config_, backend_, push_request, push.app, AccessOf(push)).has_value());
  ASSERT_FALSE(PrepareDataDir(config_).has_value());
  PushLock held;
  ASSERT_FALSE(AcquirePushLock(config_, push_request, push, notify, &held).has_value());
  ASSERT_TRUE(held.lock.has_value());
  EXPECT_TRUE(held.session_fd.valid());
  EXPECT_FALSE(held.waited);
  ASSERT_FALSE(PrepareRepository(config_, push_request, push, true).has_value());
  SpawnSpec git = DescribeGit(config_, push_request, push, held.session_fd.get());
  EXPECT_EQ(git.argv, (std::vector<std::string>{"git", "receive-pack", config_.dirs().Repo("web")}));
  EXPECT_EQ(EnvValue(git, "PUSHGATE_CLIENT_FD"), std::to_string(held.session_fd.get()));

  // A second push waits for the first and gives up after lock_timeout.
  PushLock second;
  std::optional<Refusal> busy = AcquirePushLock(config_, push_request, push, notify, &second);
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->message, "another deploy of web is still running after 300ms; try again when it has finished");
  EXPECT_TRUE(second.waited);
  EXPECT_EQ(notices_, (std::vector<std::string>{"waiting for the deploy in progress..."}));

  // A fetch takes no lock, even while a push holds it.
  SessionRequest fetch_request = Request(std::string("git-upload-pack 'web.git'"));
  GitCommand fetch;
  ASSERT_FALSE(ParseRequest(config_, fetch_request, &fetch).has_value());
  PushLock none;
  ASSERT_FALSE(AcquirePushLock(config_, fetch_request, fetch, notify, &none).has_value());
  EXPECT_FALSE(none.lock.has_value());
  EXPECT_FALSE(none.session_fd.valid());
  SpawnSpec upload = DescribeGit(config_, fetch_request, fetch, -1);
  EXPECT_EQ(upload.argv, (std::vector<std::string>{"git", "upload-pack", "--strict", config_.dirs().Repo("web")}));
  EXPECT_EQ(EnvValue(upload, "PUSHGATE_CLIENT_FD"), "<unset>");
}

TEST_F(ShellTest, InteractiveLoginIsRefusedFriendly) {
  SessionDecision d = Decide(std::nullopt);
  EXPECT_FALSE(d.exec);
  EXPECT_EQ(d.message, "Hi alice! pushgate does not provide shell access.");
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_EQ(Decide(std::string("ls -la")).message, "Hi alice! pushgate does not provide shell access.");
  EXPECT_EQ(backend_.calls, 0);
}

// The owner names files and reaches git's environment: a front end that
// passed an invalid one (a corrupt record) gets no session.
TEST_F(ShellTest, RunSessionRefusesAnInvalidOwnerOrKey) {
  std::atomic<bool> stop{false};
  for (const char* user : {"../x", "a b", "deploy-key:web", ""}) {
    std::vector<std::string> told;
    int exit = RunSession(config_, Request(std::string("info"), user), &stop,
                          [&](std::string_view line) { told.emplace_back(line); });
    EXPECT_EQ(exit, 1) << user;
    ASSERT_EQ(told.size(), 1u) << user;
    EXPECT_NE(told[0].find("pushgate is misconfigured on the server"), std::string::npos) << told[0];
  }
  SessionRequest bad_key = Request(std::string("info"));
  bad_key.fingerprint = "SHA256:short";
  std::vector<std::string> told;
  EXPECT_EQ(RunSession(config_, bad_key, &stop, [&](std::string_view line) { told.emplace_back(line); }), 1);
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ShellTest, InvalidAppNameIsExplained) {
  SessionDecision d = Decide(std::string("git-receive-pack '../x'"));
  EXPECT_FALSE(d.exec);
  EXPECT_EQ(d.message.rfind("'../x' is not a valid app name", 0), 0u) << d.message;
  EXPECT_EQ(backend_.calls, 0);
}

TEST_F(ShellTest, AMissingAppAndAForeignOneGetTheSameWordsUnlessConfigured) {
  EXPECT_EQ(Decide(std::string("git-receive-pack 'missing.git'")).message,
            "App missing does not exist or you do not have access to it");
  EXPECT_EQ(Decide(std::string("git-receive-pack 'web.git'"), "bob").message,
            "App web does not exist or you do not have access to it");
  EXPECT_EQ(Decide(std::string("git-upload-pack 'web.git'"), "bob").message,
            "App web does not exist or you do not have access to it");
  config_.push.distinguish_missing_apps = true;
  EXPECT_EQ(Decide(std::string("git-receive-pack 'missing.git'")).message, "App missing does not exist");
  EXPECT_EQ(Decide(std::string("git-receive-pack 'web.git'"), "bob").message, "You do not have access to web");
  EXPECT_FALSE(PathExists(config_.dirs().Repo("missing")));
}

TEST_F(ShellTest, OtherBackendRefusalsReachThePusher) {
  EXPECT_EQ(Decide(std::string("git-receive-pack 'flaky.git'")).message,
            "the platform controller is unavailable, try again shortly");
  SessionDecision broken = Decide(std::string("git-receive-pack 'broken.git'"));
  EXPECT_FALSE(broken.exec);
  EXPECT_NE(broken.message.find("try again"), std::string::npos);
  EXPECT_EQ(broken.message.find("disk on fire"), std::string::npos);  // internals stay in the log
  EXPECT_FALSE(PathExists(config_.dirs().Repo("missing")));
}

TEST_F(ShellTest, ReceivePackCreatesRepoTakesLockAndBuildsACleanEnvironment) {
  SessionDecision d = Decide(std::string("git-receive-pack '/web.git'"), "alice", std::string("version=2"));
  ASSERT_TRUE(d.exec) << d.message;
  EXPECT_EQ(backend_.last_fingerprint, "SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI");
  EXPECT_EQ(d.git.path, "/usr/bin/git");
  EXPECT_EQ(d.git.argv, (std::vector<std::string>{"git", "receive-pack", config_.dirs().Repo("web")}));
  ASSERT_TRUE(d.lock.has_value());
  EXPECT_TRUE(*FileLock::IsHeld(config_.dirs().AppLock("web")));
  EXPECT_TRUE(PathExists(config_.dirs().Repo("web") + "/HEAD"));
  std::string repo_config = testing::ReadFile(config_.dirs().Repo("web") + "/config");
  EXPECT_NE(repo_config.find("hooksPath = /opt/pg/libexec/pushgate/hooks"), std::string::npos) << repo_config;
  EXPECT_NE(repo_config.find("fsckObjects = true"), std::string::npos) << repo_config;
  EXPECT_FALSE(PathExists(config_.dirs().Repo("web") + "/hooks/pre-receive"));

  EXPECT_EQ(EnvValue(d.git, "GIT_PROTOCOL"), "version=2");
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_APP"), "web");
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_USER"), "alice");
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_CONFIG"), "/etc/pushgate/pushgate.toml");
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_REQUEST_ID"), "req123");
  EXPECT_EQ(EnvValue(d.git, "GIT_CONFIG_KEY_0"), "core.hooksPath");
  EXPECT_EQ(EnvValue(d.git, "GIT_CONFIG_VALUE_0"), "/opt/pg/libexec/pushgate/hooks");
  EXPECT_EQ(EnvValue(d.git, "GIT_CONFIG_GLOBAL"), "/dev/null");
  EXPECT_EQ(EnvValue(d.git, "PATH"), "/usr/bin:/bin");
  // The hook gets a duplicate of the session channel that survives exec.
  ASSERT_TRUE(d.session_fd.valid());
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_CLIENT_FD"), std::to_string(d.session_fd.get()));
  EXPECT_EQ(::fcntl(d.session_fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  // Nothing of the process's own environment is copied.
  for (const std::string& e : d.git.env) {
    EXPECT_TRUE(e.rfind("GIT_", 0) == 0 || e.rfind("PUSHGATE_", 0) == 0 || e.rfind("PATH=", 0) == 0 ||
                e.rfind("HOME=", 0) == 0)
        << e;
  }
}

// git-receive-pack killed by SIGKILL while updating a ref leaves
// refs/heads/main.lock, and every later push would fail with "cannot lock
// ref". The next push removes it (and the other lock files and quarantine
// directories a killed git leaves) once it holds the app lock; a fetch, which
// holds no lock, touches nothing.
TEST_F(ShellTest, LeftoversOfAKilledPushAreRemovedUnderTheAppLock) {
  ASSERT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);
  std::string repo = config_.dirs().Repo("web");
  std::vector<std::string> stale = {"refs/heads/main.lock", "refs/heads/feature/x.lock", "HEAD.lock",
                                    "packed-refs.lock", "objects/tmp_objdir-incoming-Ab12Cd/pack/tmp_pack_1",
                                    "objects/incoming-Ef34Gh/pack/tmp_pack_2"};
  for (const std::string& path : stale) {
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      ASSERT_TRUE(MakeDirs(repo + "/" + path.substr(0, slash), 0755).ok());
    }
    testing::WriteFile(repo + "/" + path, "0123456789012345678901234567890123456789\n");
  }
  testing::WriteFile(repo + "/refs/heads/main", "0123456789012345678901234567890123456789\n");

  ASSERT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);
  EXPECT_TRUE(PathExists(repo + "/refs/heads/main.lock")) << "a fetch removed a lock it does not hold";

  SessionDecision push = Decide(std::string("git-receive-pack 'web.git'"));
  ASSERT_TRUE(push.exec) << push.message;
  for (const std::string& path : stale) EXPECT_FALSE(PathExists(repo + "/" + path)) << path;
  // Current git names a push's quarantine tmp_objdir-incoming-*, older git incoming-*.
  EXPECT_FALSE(PathExists(repo + "/objects/tmp_objdir-incoming-Ab12Cd"));
  EXPECT_FALSE(PathExists(repo + "/objects/incoming-Ef34Gh"));
  EXPECT_TRUE(PathExists(repo + "/objects/pack")) << "git's own directory was removed";
  EXPECT_TRUE(PathExists(repo + "/refs/heads/main")) << "a ref was removed";
  EXPECT_TRUE(PathExists(repo + "/refs/heads/feature")) << "a ref directory was removed";
}

// A symlink planted in data_dir/repos (by anything running as the git user,
// such as a build) must not alias one app's repository to another's, or to
// any other directory: neither pushes nor fetches go through it.
TEST_F(ShellTest, SymlinksPlantedInDataDirAreNotServed) {
  ASSERT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);
  ASSERT_EQ(::symlink(config_.dirs().Repo("web").c_str(), config_.dirs().Repo("alias").c_str()), 0);
  TempDir elsewhere;
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), config_.dirs().Repo("outside").c_str()), 0);
  for (const char* command : {"git-receive-pack 'alias.git'", "git-upload-pack 'alias.git'",
                              "git-receive-pack 'outside.git'", "git-upload-pack 'outside.git'"}) {
    SCOPED_TRACE(command);
    SessionDecision d = Decide(std::string(command));
    EXPECT_FALSE(d.exec);
    EXPECT_NE(d.message.find("pushgate could not prepare the repository"), std::string::npos) << d.message;
  }
  EXPECT_TRUE(ListDir(elsewhere.path())->empty()) << "something was written through the symlink";
}

TEST_F(ShellTest, UploadPackIsStrictAndTakesNoLock) {
  SessionDecision d = Decide(std::string("git-upload-pack 'web.git'"));
  ASSERT_TRUE(d.exec) << d.message;
  EXPECT_EQ(d.git.argv, (std::vector<std::string>{"git", "upload-pack", "--strict", config_.dirs().Repo("web")}));
  EXPECT_FALSE(d.lock.has_value());
  EXPECT_FALSE(d.session_fd.valid());
  EXPECT_EQ(EnvValue(d.git, "PUSHGATE_CLIENT_FD"), "<unset>");
}

// A draining gateway refuses new pushes, counts the ones in flight, and
// still serves fetches.
TEST_F(ShellTest, DrainingRefusesNewPushesButNotFetches) {
  ASSERT_TRUE(SetDraining(config_.dirs(), true).ok());
  EXPECT_TRUE(*IsDraining(config_.dirs()));
  SessionDecision push = Decide(std::string("git-receive-pack 'web.git'"));
  EXPECT_FALSE(push.exec);
  EXPECT_EQ(push.message, "web deploys are paused for maintenance, try again shortly");
  EXPECT_FALSE(push.lock.has_value());
  EXPECT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);

  ASSERT_TRUE(SetDraining(config_.dirs(), false).ok());
  SessionDecision resumed = Decide(std::string("git-receive-pack 'web.git'"));
  ASSERT_TRUE(resumed.exec) << resumed.message;
  EXPECT_EQ(*PushesInFlight(config_.dirs()), 1);  // `resumed` holds the app lock
  resumed.lock.reset();
  EXPECT_EQ(*PushesInFlight(config_.dirs()), 0);
}

TEST_F(ShellTest, InvalidGitProtocolIsDropped) {
  for (std::string bad : {"version=3", "version=2:foo=bar", "version=2\nLD_PRELOAD=x", "", "version=2:"}) {
    SessionDecision d = Decide(std::string("git-upload-pack 'web.git'"), "alice", bad);
    ASSERT_TRUE(d.exec);
    EXPECT_EQ(EnvValue(d.git, "GIT_PROTOCOL"), "<unset>") << bad;
  }
  EXPECT_TRUE(IsValidGitProtocol("version=2"));
  EXPECT_TRUE(IsValidGitProtocol("version=1:version=2"));
}

TEST_F(ShellTest, SecondPushWaitsForTheLockThenGivesUpClearly) {
  SessionDecision first = Decide(std::string("git-receive-pack 'web.git'"));
  ASSERT_TRUE(first.exec);
  SessionDecision second = Decide(std::string("git-receive-pack 'web.git'"));
  EXPECT_FALSE(second.exec);
  EXPECT_EQ(notices_, (std::vector<std::string>{"waiting for the deploy in progress..."}));
  EXPECT_NE(second.message.find("another deploy of web is still running"), std::string::npos) << second.message;
  first.lock.reset();
  EXPECT_TRUE(Decide(std::string("git-receive-pack 'web.git'")).exec);
}

// 30 clients killed while waiting for a locked app used to leave 30 shells
// waiting out push.lock_timeout; a waiter whose client is gone stops.
TEST_F(ShellTest, AWaiterWhoseClientLeftStopsWaiting) {
  config_.push.lock_timeout = std::chrono::minutes(10);
  SessionDecision first = Decide(std::string("git-receive-pack 'web.git'"));
  ASSERT_TRUE(first.exec);
  client_reads_.Reset();  // the client is gone
  auto start = std::chrono::steady_clock::now();
  SessionDecision second = Decide(std::string("git-receive-pack 'web.git'"));
  EXPECT_FALSE(second.exec);
  EXPECT_EQ(second.message, "the connection closed while waiting for the deploy in progress");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::minutes(1));
}

// Protocol v2 lets a fetch name any object; force-pushed-away commits must
// not be fetchable, so fetches are served with v0. Pushes keep the client's
// protocol, and git refuses packs above push.max_pack_size.
TEST_F(ShellTest, FetchesSpeakProtocolV0AndPushesCarryThePackLimit) {
  SessionDecision fetch = Decide(std::string("git-upload-pack 'web.git'"), "alice", std::string("version=2"));
  ASSERT_TRUE(fetch.exec);
  EXPECT_EQ(EnvValue(fetch.git, "GIT_PROTOCOL"), "<unset>");
  fetch = Decide(std::string("git-upload-pack 'web.git'"), "alice", std::string("version=1"));
  EXPECT_EQ(EnvValue(fetch.git, "GIT_PROTOCOL"), "version=1");
  config_.push.max_pack_size = 12345;
  SessionDecision push = Decide(std::string("git-receive-pack 'web.git'"));
  ASSERT_TRUE(push.exec);
  bool found = false;
  for (size_t i = 0; i < 20; ++i) {
    if (EnvValue(push.git, "GIT_CONFIG_KEY_" + std::to_string(i)) == "receive.maxInputSize") {
      EXPECT_EQ(EnvValue(push.git, "GIT_CONFIG_VALUE_" + std::to_string(i)), "12345");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(testing::ReadFile(config_.dirs().Repo("web") + "/config").find("maxInputSize"), std::string::npos);
}

TEST_F(ShellTest, ExistingRepositoryIsReusedUntouched) {
  ASSERT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);
  testing::WriteFile(config_.dirs().Repo("web") + "/marker", "x");
  ASSERT_TRUE(Decide(std::string("git-upload-pack 'web.git'")).exec);
  EXPECT_TRUE(PathExists(config_.dirs().Repo("web") + "/marker"));
}

}  // namespace
}  // namespace pushgate
