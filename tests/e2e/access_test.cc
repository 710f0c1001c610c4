// End-to-end: who may do what, through either front end with the real git
// and ssh clients: deploy keys, and the pusher commands (greeting, info,
// releases, logs, rollback), and the per-pusher limits.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "metrics/counters.h"
#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class AccessTest : public SharedGatewayTest<AccessTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    options.app_build_steps = true;  // builds that say who pushed, or take a while
    return options;
  }

 protected:
  CapturedRun Push(const TestKey& key, const std::string& dir, const std::string& app) {
    return gateway_->Git(key, {"push", gateway_->Url(app), "main"}, dir);
  }
  TestKey NewKey(const std::string& name) { return MakeKey(keys_->path(), name); }

  TempDir work_;
};

// A read-only deploy key fetches its app and nothing else; its push is
// refused with what to ask the operator for.
TEST_F(AccessTest, AReadOnlyDeployKeyFetchesItsAppOnly) {
  gateway_->AdminOk({"app", "create", "ro-web", "--member", "alice"});
  gateway_->AdminOk({"app", "create", "ro-other", "--member", "alice"});
  std::string commit;
  std::string dir = work_ / "ro";
  commit = MakeRepoWithCommit(dir, {{"README", "deploy keys\n"}});
  ASSERT_TRUE(Push(*alice_, dir, "ro-web").status.success());
  ASSERT_TRUE(Push(*alice_, dir, "ro-other").status.success());
  TestKey mirror = NewKey("mirror");
  gateway_->AdminOk({"app", "key", "add", "ro-web", "mirror", mirror.private_path + ".pub"});

  CapturedRun clone = gateway_->Git(mirror, {"clone", "-q", gateway_->Url("ro-web"), work_ / "clone"}, work_.path());
  ASSERT_TRUE(clone.status.success()) << clone.output;
  EXPECT_EQ(ReadFile(work_ / "clone/README"), "deploy keys\n");

  CapturedRun push = Push(mirror, dir, "ro-web");
  EXPECT_FALSE(push.status.success());
  EXPECT_TRUE(Contains(push.output, "deploy key mirror may fetch ro-web but not push to it")) << push.output;

  CapturedRun other = gateway_->Git(mirror, {"clone", "-q", gateway_->Url("ro-other"), work_ / "other"}, work_.path());
  EXPECT_FALSE(other.status.success());
  EXPECT_TRUE(Contains(other.output, "App ro-other does not exist or you do not have access to it")) << other.output;
  EXPECT_FALSE(PathExists(work_ / "other/README"));

  // Removing it takes effect on the next connection.
  gateway_->AdminOk({"app", "key", "rm", "ro-web", "mirror"});
  CapturedRun removed = gateway_->Git(mirror, {"ls-remote", gateway_->Url("ro-web")}, work_.path());
  EXPECT_FALSE(removed.status.success());
  EXPECT_FALSE(Contains(removed.output, commit)) << removed.output;
}

// A CI system pushes with a deploy key added with --push: the build and
// the log name it deploy-key:NAME, and it is no member of the app.
TEST_F(AccessTest, ACiDeployKeyPushesAsDeployKeyName) {
  gateway_->AdminOk({"app", "create", "ci-web", "--member", "alice"});
  gateway_->SetBuild("ci-web", "echo \"built for $PUSHGATE_USER\"");
  TestKey ci = NewKey("ci");
  gateway_->AdminOk({"app", "key", "add", "ci-web", "--push", "ci", ci.private_path + ".pub"});
  std::string dir = work_ / "ci";
  MakeRepoWithCommit(dir, {{"app.txt", "v1\n"}});
  CapturedRun push = Push(ci, dir, "ci-web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_TRUE(Contains(push.output, "built for deploy-key:ci")) << push.output;
  EXPECT_TRUE(Contains(ReadFile(gateway_->data_dir() + "/pushgate.log"), "\"user\":\"deploy-key:ci\"")) << "the log names the deploy key";
  EXPECT_TRUE(Contains(gateway_->AdminOk({"app", "ls"}), "ci-web  alice\n"));

  // Its key cannot be registered to anyone else while it is a deploy key.
  CapturedRun again = gateway_->Admin({"key", "add", "alice", ci.private_path + ".pub"});
  EXPECT_EQ(again.status.code, 1) << again.output;
  EXPECT_TRUE(Contains(again.output, "already registered to deploy key ci of app ci-web")) << again.output;

  // Removing the app removes the deploy key: the key no longer logs in.
  gateway_->AdminOk({"app", "rm", "ci-web"});
  CapturedRun gone = gateway_->Ssh(ci, {"-T", "127.0.0.1"});
  EXPECT_EQ(gone.status.code, 255) << gone.output;
  EXPECT_TRUE(Contains(gone.output, "Permission denied")) << gone.output;
}

// carol's apps, for the commands' answers: cmd-web and cmd-api are hers,
// cmd-ci has a read-only deploy key.
class PusherCommandTest : public SharedGatewayTest<PusherCommandTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    options.app_build_steps = true;  // builds that say who pushed, or take a while
    return options;
  }

 protected:
  static void SetUpTestSuite() {
    SharedGatewayTest::SetUpTestSuite();
    if (gateway_ == nullptr) return;
    carol_ = new TestKey(gateway_->AddUserWithKey("carol", keys_->path()));
    mirror_ = new TestKey(MakeKey(keys_->path(), "mirror"));
    gateway_->AdminOk({"app", "create", "cmd-web", "--member", "carol"});
    gateway_->AdminOk({"app", "create", "cmd-api", "--member", "carol"});
    gateway_->AdminOk({"app", "key", "add", "cmd-web", "mirror", mirror_->private_path + ".pub"});
  }
  static void TearDownTestSuite() {
    SharedGatewayTest::TearDownTestSuite();
    delete carol_;
    delete mirror_;
  }

  CapturedRun Command(const TestKey& key, const std::string& command) {
    return gateway_->Ssh(key, {"127.0.0.1", command});
  }
  // Pushes a commit whose build prints `says`; returns the commit.
  std::string PushVersion(const std::string& app, const std::string& says) {
    gateway_->SetBuild(app, "echo 'build says: " + says + "'");
    std::string dir = work_ / (app + "-" + says);
    std::string commit = MakeRepoWithCommit(dir, {{"version", says + "\n"}});
    CapturedRun push = gateway_->Git(*carol_, {"push", "-f", gateway_->Url(app), "main"}, dir);
    EXPECT_TRUE(push.status.success()) << push.output;
    return commit;
  }

  static inline TestKey* carol_ = nullptr;
  static inline TestKey* mirror_ = nullptr;
  TempDir work_;
};

// `ssh git@host` is still no shell, and now says what you may do (exit 1, as on GitHub).
TEST_F(PusherCommandTest, AnInteractiveLoginIsGreetedWithYourApps) {
  CapturedRun carol = gateway_->Ssh(*carol_, {"-T", "127.0.0.1"});
  EXPECT_EQ(carol.status.code, 1) << carol.output;
  EXPECT_TRUE(Contains(carol.output, "Hi carol! You can push to: cmd-api, cmd-web. pushgate does not provide shell access."))
      << carol.output;
  CapturedRun mirror = gateway_->Ssh(*mirror_, {"-T", "127.0.0.1"});
  EXPECT_EQ(mirror.status.code, 1) << mirror.output;
  EXPECT_TRUE(Contains(mirror.output, "Hi deploy-key:mirror! You can fetch: cmd-web. pushgate does not provide shell access."))
      << mirror.output;
}

TEST_F(PusherCommandTest, InfoSaysWhoYouAreAndWhatYouMayDo) {
  CapturedRun info = Command(*carol_, "info");
  EXPECT_EQ(info.status.code, 0) << info.output;
  EXPECT_TRUE(Contains(info.output, "hello carol\nkey " + carol_->sha256 + "\n\n R W  cmd-api\n R W  cmd-web\n"))
      << info.output;
  CapturedRun json = Command(*carol_, "info --json");
  EXPECT_EQ(json.status.code, 0) << json.output;
  EXPECT_TRUE(Contains(json.output, "{\"user\":\"carol\",\"deploy_key\":null,\"key\":\"" + carol_->sha256 +
                                        "\",\"apps\":[{\"name\":\"cmd-api\",\"fetch\":true,\"push\":true},"
                                        "{\"name\":\"cmd-web\",\"fetch\":true,\"push\":true}]}\n"))
      << json.output;
  CapturedRun mirror = Command(*mirror_, "info --json");
  EXPECT_EQ(mirror.status.code, 0) << mirror.output;
  EXPECT_TRUE(Contains(mirror.output, "\"deploy_key\":{\"name\":\"mirror\",\"app\":\"cmd-web\"}")) << mirror.output;
  EXPECT_TRUE(Contains(mirror.output, "{\"name\":\"cmd-web\",\"fetch\":true,\"push\":false}")) << mirror.output;
}

TEST_F(PusherCommandTest, UnknownCommandsAndBadArgumentsSayWhatIsValid) {
  CapturedRun unknown = Command(*carol_, "deploy cmd-web");
  EXPECT_EQ(unknown.status.code, 1) << unknown.output;
  EXPECT_TRUE(Contains(unknown.output,
                       "unknown command 'deploy'; pushgate does not provide shell access; the commands are: "
                       "info [--json], releases APP, rollback APP [vN], logs APP [vN], and git push/fetch"))
      << unknown.output;
  CapturedRun usage = Command(*carol_, "rollback cmd-web 2");
  EXPECT_EQ(usage.status.code, 1) << usage.output;
  EXPECT_TRUE(Contains(usage.output, "'2' is not a release version (v1, v2, ...); usage: ssh " + std::string(Gateway::kGitUser) + "@HOST rollback APP [vN]"))
      << usage.output;
  CapturedRun name = Command(*carol_, "releases ../cmd-web");
  EXPECT_TRUE(Contains(name.output, "'../cmd-web' is not a valid app name")) << name.output;
}

// releases, logs and rollback on one app's history; others' apps stay closed.
TEST_F(PusherCommandTest, ReleasesLogsAndRollback) {
  CapturedRun none = Command(*carol_, "releases cmd-api");
  EXPECT_EQ(none.status.code, 0) << none.output;
  EXPECT_TRUE(Contains(none.output, "cmd-api has no releases yet")) << none.output;
  CapturedRun no_log = Command(*carol_, "logs cmd-api");
  EXPECT_EQ(no_log.status.code, 1) << no_log.output;
  EXPECT_TRUE(Contains(no_log.output, "cmd-api: no build has run yet")) << no_log.output;

  std::string one = PushVersion("cmd-api", "one");
  std::string two = PushVersion("cmd-api", "two");
  CapturedRun releases = Command(*carol_, "releases cmd-api");
  EXPECT_EQ(releases.status.code, 0) << releases.output;
  EXPECT_TRUE(Contains(releases.output, "* v2  " + two.substr(0, 7) + "  ")) << releases.output;
  EXPECT_TRUE(Contains(releases.output, "  v1  " + one.substr(0, 7) + "  ")) << releases.output;
  EXPECT_TRUE(Contains(releases.output, "Z  carol\n")) << releases.output;

  CapturedRun latest = Command(*carol_, "logs cmd-api");
  EXPECT_EQ(latest.status.code, 0) << latest.output;
  EXPECT_TRUE(Contains(latest.output, "-----> Building cmd-api (" + two.substr(0, 7) + ") as carol\nbuild says: two\n"))
      << latest.output;
  EXPECT_TRUE(Contains(latest.output, "cmd-api deployed: v2")) << latest.output;
  CapturedRun first = Command(*carol_, "logs cmd-api v1");
  EXPECT_TRUE(Contains(first.output, "build says: one")) << first.output;
  EXPECT_FALSE(Contains(first.output, "build says: two")) << first.output;

  Result<metrics::Snapshot> before = metrics::ReadCounters(gateway_->data_dir());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  CapturedRun back = Command(*carol_, "rollback cmd-api");
  EXPECT_EQ(back.status.code, 0) << back.output;
  EXPECT_TRUE(Contains(back.output, "-----> cmd-api rolled back to v1 (" + one.substr(0, 7) + ", pushed by carol); it was v2"))
      << back.output;
  EXPECT_EQ(gateway_->CurrentRelease("cmd-api"), "v1-" + one.substr(0, 7));
  EXPECT_TRUE(Contains(Command(*carol_, "releases cmd-api").output, "* v1  ")) << "the list follows";
  CapturedRun again = Command(*carol_, "rollback cmd-api");
  EXPECT_EQ(again.status.code, 1) << again.output;
  EXPECT_TRUE(Contains(again.output, "cmd-api: there is no release before the current one to roll back to"))
      << again.output;
  EXPECT_TRUE(Command(*carol_, "rollback cmd-api v2").status.success());
  EXPECT_EQ(gateway_->CurrentRelease("cmd-api"), "v2-" + two.substr(0, 7));

  // Someone else's app: the same words as for a push, and nothing leaks.
  for (const char* command : {"releases cmd-api", "logs cmd-api", "logs cmd-api v1", "rollback cmd-api v1"}) {
    CapturedRun alice = Command(*alice_, command);
    EXPECT_EQ(alice.status.code, 1) << command << ": " << alice.output;
    EXPECT_TRUE(Contains(alice.output, "App cmd-api does not exist or you do not have access to it"))
        << command << ": " << alice.output;
    EXPECT_FALSE(Contains(alice.output, "build says")) << command;
  }
  EXPECT_EQ(gateway_->CurrentRelease("cmd-api"), "v2-" + two.substr(0, 7));
  // Two rollbacks switched current; the refused one did not count.
  Result<metrics::Snapshot> after = metrics::ReadCounters(gateway_->data_dir());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->Get(metrics::Counter::kRollback) - before->Get(metrics::Counter::kRollback), 2u);
  EXPECT_GE(after->Get(metrics::Counter::kSessionCommand) - before->Get(metrics::Counter::kSessionCommand), 7u);
}

// A read-only deploy key may read the history, not change it.
TEST_F(PusherCommandTest, AReadOnlyDeployKeyMayListButNotRollBack) {
  PushVersion("cmd-web", "one");
  PushVersion("cmd-web", "two");
  EXPECT_TRUE(Command(*mirror_, "releases cmd-web").status.success());
  EXPECT_TRUE(Contains(Command(*mirror_, "logs cmd-web").output, "build says: two"));
  CapturedRun rollback = Command(*mirror_, "rollback cmd-web");
  EXPECT_EQ(rollback.status.code, 1) << rollback.output;
  EXPECT_TRUE(Contains(rollback.output, "deploy key mirror may fetch cmd-web but not push to it")) << rollback.output;
  EXPECT_TRUE(Contains(gateway_->CurrentRelease("cmd-web"), "v2-"));
}

// A rollback during a deploy waits for it, then goes back from what it deployed.
TEST_F(PusherCommandTest, ARollbackWaitsForTheDeployInProgress) {
  gateway_->AdminOk({"app", "create", "cmd-busy", "--member", "carol"});
  PushVersion("cmd-busy", "one");
  std::string two = PushVersion("cmd-busy", "two");
  gateway_->SetBuild("cmd-busy", "echo 'building slowly'; sleep 3");
  std::string dir = work_ / "busy-three";
  std::string three = MakeRepoWithCommit(dir, {{"version", "three\n"}});
  std::unique_ptr<LiveGit> push = gateway_->StartGit(*carol_, {"push", "-f", gateway_->Url("cmd-busy"), "main"}, dir);
  ASSERT_NE(push, nullptr);
  ASSERT_TRUE(push->ReadUntil("building slowly")) << push->output();
  CapturedRun rollback = Command(*carol_, "rollback cmd-busy");
  ASSERT_TRUE(push->Finish().success()) << push->output();
  EXPECT_EQ(rollback.status.code, 0) << rollback.output;
  EXPECT_TRUE(Contains(rollback.output, "waiting for the deploy in progress...")) << rollback.output;
  EXPECT_TRUE(Contains(rollback.output, "rolled back to v2 (" + two.substr(0, 7) + ", pushed by carol); it was v3"))
      << rollback.output;
  EXPECT_EQ(gateway_->CurrentRelease("cmd-busy"), "v2-" + two.substr(0, 7));
  // The operator's command, under the same lock.
  EXPECT_TRUE(Contains(gateway_->AdminOk({"release", "rollback", "cmd-busy", "v3"}), "cmd-busy rolled back to v3-" + three.substr(0, 7)));
  std::string listed = gateway_->AdminOk({"release", "ls", "cmd-busy"});
  EXPECT_TRUE(Contains(listed, "* v3  " + three.substr(0, 7))) << listed;
  EXPECT_TRUE(Contains(listed, "(rolled back to by operator)")) << listed;
}

// Small per-pusher limits, to meet them: one push at a time, six requests
// a minute.
class PusherLimitTest : public SharedGatewayTest<PusherLimitTest> {
 public:
  static GatewayOptions Options() {
    GatewayOptions options;
    options.extra_config = "[push]\nmax_pushes_per_user = 1\nmax_requests_per_minute = 6\n";
    options.app_build_steps = true;  // a slow build holds the one slot
    return options;
  }

 protected:
  TempDir work_;
};

// A second push of the same pusher while one runs (to another app, so no
// app lock is involved) is refused; others push on, and the slot comes
// back when the first push ends.
TEST_F(PusherLimitTest, OnePusherCannotTakeEveryBuildSlot) {
  TestKey dave = gateway_->AddUserWithKey("dave", keys_->path());
  TestKey erin = gateway_->AddUserWithKey("erin", keys_->path());
  gateway_->AdminOk({"app", "create", "lim-one", "--member", "dave"});
  gateway_->AdminOk({"app", "create", "lim-two", "--member", "dave", "--member", "erin"});
  gateway_->SetBuild("lim-one", "echo 'building slowly'; sleep 3");
  std::string one = work_ / "one", two = work_ / "two";
  MakeRepoWithCommit(one, {{"a", "1"}});
  MakeRepoWithCommit(two, {{"a", "2"}});
  std::unique_ptr<LiveGit> slow = gateway_->StartGit(dave, {"push", gateway_->Url("lim-one"), "main"}, one);
  ASSERT_NE(slow, nullptr);
  ASSERT_TRUE(slow->ReadUntil("building slowly")) << slow->output();
  CapturedRun refused = gateway_->Git(dave, {"push", gateway_->Url("lim-two"), "main"}, two);
  EXPECT_FALSE(refused.status.success());
  EXPECT_TRUE(Contains(refused.output, "too many pushes in progress for dave (1 at once, push.max_pushes_per_user); "
                                       "try again when one has finished"))
      << refused.output;
  CapturedRun other = gateway_->Git(erin, {"push", gateway_->Url("lim-two"), "main"}, two);
  EXPECT_TRUE(other.status.success()) << "erin is not limited by dave: " << other.output;
  ASSERT_TRUE(slow->Finish().success()) << slow->output();
  CapturedRun again = gateway_->Git(dave, {"push", "-f", gateway_->Url("lim-two"), "main"}, two);
  EXPECT_TRUE(again.status.success()) << again.output;
}

TEST_F(PusherLimitTest, RequestsBeyondTheMinutesShareAreRefusedWithWhenToRetry) {
  TestKey frank = gateway_->AddUserWithKey("frank", keys_->path());
  for (int i = 0; i < 6; ++i) {
    CapturedRun info = gateway_->Ssh(frank, {"127.0.0.1", "info"});
    ASSERT_EQ(info.status.code, 0) << i << ": " << info.output;
  }
  CapturedRun over = gateway_->Ssh(frank, {"127.0.0.1", "info"});
  EXPECT_EQ(over.status.code, 1) << over.output;
  EXPECT_TRUE(Contains(over.output, "frank made 6 requests in the last minute, the most allowed "
                                    "(push.max_requests_per_minute); try again in "))
      << over.output;
  // A push counts the same; another user does not.
  gateway_->AdminOk({"app", "create", "lim-rate", "--member", "frank"});
  std::string dir = work_ / "rate";
  MakeRepoWithCommit(dir, {{"a", "1"}});
  CapturedRun push = gateway_->Git(frank, {"push", gateway_->Url("lim-rate"), "main"}, dir);
  EXPECT_FALSE(push.status.success());
  EXPECT_TRUE(Contains(push.output, "(push.max_requests_per_minute); try again in ")) << push.output;
  EXPECT_EQ(gateway_->Ssh(*alice_, {"127.0.0.1", "info"}).status.code, 0);
}

}  // namespace
}  // namespace pushgate::testing
