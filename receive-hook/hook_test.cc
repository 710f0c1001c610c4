#include "receive-hook/hook.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "metrics/counters.h"
#include "releases/releases.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::FakeController;
using testing::TempDir;

const std::string kOld(40, '1');
const std::string kNew(40, '2');
const std::string kZero(40, '0');

Config TestConfig(const std::string& data_dir) {
  Config c;
  c.path = "/etc/pushgate/pushgate.toml";
  c.data_dir = data_dir;
  return c;
}

TEST(RefUpdatesTest, ReadsGitsFormat) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string input = kOld + " " + kNew + " refs/heads/main\n" + kZero + " " + kNew + " refs/heads/feature/x\n";
  ASSERT_TRUE(WriteAll(fds[1], input).ok());
  ::close(fds[1]);
  LineReader lines(fds[0]);
  auto updates = ReadRefUpdates(lines);
  ::close(fds[0]);
  ASSERT_TRUE(updates.ok());
  ASSERT_EQ(updates->size(), 2u);
  EXPECT_EQ((*updates)[1].old_id, kZero);
  EXPECT_EQ((*updates)[1].ref, "refs/heads/feature/x");
}

TEST(RefUpdatesTest, RefusesMalformedLines) {
  for (const std::string& bad : std::vector<std::string>{"x y z\n", kOld + " " + kNew + "\n", kOld + " " + kNew.substr(1) + " refs/heads/main\n",
                          kOld + " " + std::string(40, 'G') + " refs/heads/main\n"}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ASSERT_TRUE(WriteAll(fds[1], bad).ok());
    ::close(fds[1]);
    LineReader lines(fds[0]);
    EXPECT_FALSE(ReadRefUpdates(lines).ok()) << bad;
    ::close(fds[0]);
  }
}

TEST(JudgeTest, OnlyDeployRefsAndNoDeletion) {
  Config config = TestConfig("/tmp/x");
  RefVerdict ok = JudgeRefUpdates(config, {{kOld, kNew, "refs/heads/main"}});
  EXPECT_TRUE(ok.refusals.empty());
  ASSERT_EQ(ok.deploys.size(), 1u);

  RefVerdict feature = JudgeRefUpdates(config, {{kOld, kNew, "refs/heads/main"}, {kZero, kNew, "refs/heads/feat"}});
  ASSERT_EQ(feature.refusals.size(), 1u);
  EXPECT_NE(feature.refusals[0].find("refs/heads/main or refs/heads/master"), std::string::npos);
  EXPECT_NE(feature.refusals[0].find("git push REMOTE feat:main"), std::string::npos) << feature.refusals[0];

  RefVerdict tag = JudgeRefUpdates(config, {{kZero, kNew, "refs/tags/v1"}});
  EXPECT_EQ(tag.refusals.size(), 1u);

  RefVerdict del = JudgeRefUpdates(config, {{kOld, kZero, "refs/heads/main"}});
  ASSERT_EQ(del.refusals.size(), 1u);
  EXPECT_NE(del.refusals[0].find("deleting"), std::string::npos);
}

TEST(JudgeTest, OnePushDeploysOneCommit) {
  Config config = TestConfig("/tmp/x");
  RefVerdict same = JudgeRefUpdates(config, {{kOld, kNew, "refs/heads/main"}, {kOld, kNew, "refs/heads/master"}});
  EXPECT_TRUE(same.refusals.empty());
  EXPECT_EQ(same.deploys.size(), 1u);
  RefVerdict different =
      JudgeRefUpdates(config, {{kOld, kNew, "refs/heads/main"}, {kOld, std::string(40, '3'), "refs/heads/master"}});
  EXPECT_EQ(different.refusals.size(), 1u);
}

// Answers the hook's second access check as the test says.
class ScriptedBackend : public Backend {
 public:
  Status Authorize(std::string_view app, std::string_view user, const Credential& key, Access) override {
    std::string_view fingerprint = key.fingerprint;
    ++calls;
    last = std::string(app) + " " + std::string(user) + " " + std::string(fingerprint);
    return answer;
  }
  std::vector<AppState> CheckApps(const std::vector<std::string>& apps) override {
    return std::vector<AppState>(apps.size(), AppState::kUnknown);
  }
  Status answer = Status::OK();
  int calls = 0;
  std::string last;
};

class PreReceiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = TestConfig(dir_ / "data");
    commit_ = testing::MakeRepoWithCommit(dir_ / "work", {{"app.txt", "hello"}});
    ASSERT_TRUE(MakeDirs(dir_ / "libexec", 0755).ok());
  }

  // Runs the hook with `build_script` as the build command; returns (exit, output).
  std::pair<int, std::string> RunHook(const std::string& build_script, const std::string& ref = "refs/heads/main",
                                      const std::vector<std::string>& push_options = {}) {
    testing::WriteFile(dir_ / "build.sh", "#!/bin/sh\n" + build_script, 0755);
    config_.build.command = {dir_ / "build.sh"};
    Result<GitRepo> repo = GitRepo::Open(dir_ / "work/.git");
    EXPECT_TRUE(repo.ok());
    UniqueFd out(::open((dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    HookContext context{&config_, "web", "alice", "alice", "SHA256:k", "req1", push_options, dir_ / "libexec",
                        out.get(), -1, nullptr, &backend_};
    int rc = RunPreReceive(context, *repo, {{kZero, commit_, ref}});
    return {rc, testing::ReadFile(dir_ / "out")};
  }

  // Runs the hook with no build command: the bundled deploy, in process.
  std::pair<int, std::string> RunBundledDeploy() {
    config_.build.command.clear();
    Result<GitRepo> repo = GitRepo::Open(dir_ / "work/.git");
    EXPECT_TRUE(repo.ok());
    UniqueFd out(::open((dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    HookContext context{&config_, "web", "alice", "alice", "SHA256:k", "0a1b2c3d", {}, dir_ / "libexec",
                        out.get(), -1, nullptr, &backend_};
    int rc = RunPreReceive(context, *repo, {{kZero, commit_, "refs/heads/main"}});
    return {rc, testing::ReadFile(dir_ / "out")};
  }

  TempDir dir_;
  Config config_;
  std::string commit_;
  ScriptedBackend backend_;
};

// No build command: the hook writes the release itself, from the
// repository, with no archive and no program (libexec is empty here).
TEST_F(PreReceiveTest, TheBundledDeployWritesTheReleaseInProcess) {
  auto [rc, out] = RunBundledDeploy();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("-----> web deployed: v1 (" + commit_.substr(0, 7) + ")"), std::string::npos) << out;
  std::string app_dir = config_.dirs().Releases() + "/web";
  EXPECT_EQ(testing::ReadFile(app_dir + "/current/app.txt"), "hello");
  Result<std::vector<ReleaseRecord>> records = ListReleaseRecords(app_dir);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].pusher, "alice");
  EXPECT_EQ((*records)[0].request_id, "0a1b2c3d");
  Result<std::string> log = ReadBuildLog(app_dir, std::nullopt);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_NE(log->find("web deployed: v1"), std::string::npos) << *log;
  EXPECT_FALSE(PathExists(config_.dirs().Tmp())) << "nothing is archived";
  Result<metrics::Snapshot> counted = metrics::ReadCounters(config_.data_dir);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(counted->Get(metrics::Counter::kPushDeployed), 1u);
  EXPECT_EQ(counted->Get(metrics::Counter::kBuildSucceeded), 1u);
}

// The bundled deploy counts as the build: build.timeout stops it between
// pieces of a file, and the app is left as it was.
TEST_F(PreReceiveTest, TheBundledDeployStopsAtTheBuildTimeout) {
  testing::RunOk({"truncate", "-s", "300M", dir_ / "work/big.bin"});
  commit_ = testing::CommitFiles(dir_ / "work", {}, "big");
  config_.build.timeout = std::chrono::milliseconds(200);
  auto [rc, out] = RunBundledDeploy();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("Build timed out after 200ms."), std::string::npos) << out;
  EXPECT_EQ(out.find("deployed"), std::string::npos) << out;
  std::string app_dir = config_.dirs().Releases() + "/web";
  EXPECT_FALSE(PathExists(app_dir + "/current"));
  Result<std::vector<std::string>> left = ListReleases(app_dir);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  Result<std::vector<std::string>> entries = ListDir(app_dir);
  ASSERT_TRUE(entries.ok());
  for (const std::string& name : *entries) EXPECT_EQ(name.rfind(".tmp-", 0), std::string::npos) << name;
}

TEST_F(PreReceiveTest, SuccessfulBuildAcceptsAndSeesTheEnvironment) {
  auto [rc, out] = RunHook(
      "echo \"app=$PUSHGATE_APP user=$PUSHGATE_USER ref=$PUSHGATE_REF sha=$PUSHGATE_SHA\"\n"
      "test \"$(sha256sum < \"$PUSHGATE_SOURCE\" | cut -d' ' -f1)\" = \"$PUSHGATE_SOURCE_SHA256\" && echo digest-ok\n"
      "tar -tzf \"$PUSHGATE_SOURCE\"\n");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("-----> Building web (" + commit_.substr(0, 7) + ") as alice"), std::string::npos) << out;
  EXPECT_NE(out.find("app=web user=alice ref=refs/heads/main sha=" + commit_), std::string::npos) << out;
  EXPECT_NE(out.find("digest-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("app.txt"), std::string::npos) << out;
  // The archive is gone afterwards.
  EXPECT_TRUE(ListDir(config_.dirs().Tmp())->empty());
}

// git push -o: the build reads them from a JSON file, in order, untouched.
TEST_F(PreReceiveTest, PushOptionsReachTheBuildAsAJsonFile) {
  auto [rc, out] = RunHook("echo \"options: $(cat \"$PUSHGATE_PUSH_OPTIONS\")\"\n", "refs/heads/main",
                           {"nocache", "env=staging", "core.hooksPath=/tmp/x"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("options: [\"nocache\",\"env=staging\",\"core.hooksPath=/tmp/x\"]"), std::string::npos) << out;
  EXPECT_TRUE(ListDir(config_.dirs().Tmp())->empty()) << "the options file goes with the build";
  auto [plain_rc, plain] = RunHook("echo \"options: ${PUSHGATE_PUSH_OPTIONS:-none}\"\n");
  EXPECT_EQ(plain_rc, 0) << plain;
  EXPECT_NE(plain.find("options: none"), std::string::npos) << plain;
}

TEST_F(PreReceiveTest, InvalidPushOptionsRefuseThePushBeforeAnyBuild) {
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n", "refs/heads/main", {"nocache", "bad key=1"});
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos) << out;
  EXPECT_NE(out.find("push option 'bad key=1' does not start with a name of letters"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing was changed"), std::string::npos) << out;
}

TEST_F(PreReceiveTest, FailedBuildRejectsWithASummary) {
  auto [rc, out] = RunHook("echo compiling; exit 3\n");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("compiling"), std::string::npos);
  EXPECT_NE(out.find("Build failed (exit status 3)"), std::string::npos) << out;
  EXPECT_NE(out.find("web is unchanged"), std::string::npos) << out;
  EXPECT_TRUE(ListDir(config_.dirs().Tmp())->empty());
}

TEST_F(PreReceiveTest, TimeoutRejects) {
  config_.build.timeout = std::chrono::milliseconds(300);
  auto [rc, out] = RunHook("sleep 30\n");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("Build timed out after 300ms"), std::string::npos) << out;
}

// Each push counts once by its outcome, and a build once by its own result:
// a build that never reports one (timed out) is an error.
TEST_F(PreReceiveTest, PushesAndBuildsAreCountedByOutcome) {
  using metrics::Counter;
  EXPECT_EQ(RunHook("exit 0\n").first, 0);
  EXPECT_EQ(RunHook("exit 3\n").first, 1);
  config_.build.timeout = std::chrono::milliseconds(300);
  EXPECT_EQ(RunHook("sleep 30\n").first, 1);
  EXPECT_EQ(RunHook("exit 0\n", "refs/heads/feature").first, 1);
  Result<metrics::Snapshot> counted = metrics::ReadCounters(config_.data_dir);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(counted->Get(Counter::kPushDeployed), 1u);
  EXPECT_EQ(counted->Get(Counter::kPushBuildFailed), 1u);
  EXPECT_EQ(counted->Get(Counter::kPushError), 1u);  // the timeout
  EXPECT_EQ(counted->Get(Counter::kPushRejected), 1u);
  EXPECT_EQ(counted->Get(Counter::kBuildSucceeded), 1u);
  EXPECT_EQ(counted->Get(Counter::kBuildFailed), 1u);
  EXPECT_EQ(counted->Get(Counter::kBuildError), 1u);
  EXPECT_EQ(counted->Get(metrics::Histogram::kBuildSeconds).Count(), 3u);
}

TEST_F(PreReceiveTest, RefusedRefBuildsNothing) {
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n", "refs/heads/feature");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos);
  EXPECT_NE(out.find("nothing was changed"), std::string::npos) << out;
}

TEST_F(PreReceiveTest, MissingBuildCommandIsExplained) {
  config_.build.command = {dir_ / "no-such-build"};
  Result<GitRepo> repo = GitRepo::Open(dir_ / "work/.git");
  UniqueFd out(::open((dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  HookContext context{&config_, "web", "alice", "alice", "SHA256:k", "req1", {}, dir_ / "libexec", out.get(), -1, nullptr,
                      &backend_};
  EXPECT_EQ(RunPreReceive(context, *repo, {{kZero, commit_, "refs/heads/main"}}), 1);
  EXPECT_NE(testing::ReadFile(dir_ / "out").find("could not be started"), std::string::npos);
}

// Revocation reaches a session that is already open: access is asked again
// before anything is built.
TEST_F(PreReceiveTest, AccessRevokedSinceTheSessionOpenedRejectsBeforeBuilding) {
  backend_.answer = Status::PermissionDenied("You do not have access to web");
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(backend_.calls, 1);
  EXPECT_EQ(backend_.last, "web alice SHA256:k");
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos) << out;
  EXPECT_NE(out.find(" !     App web does not exist or you do not have access to it"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing was changed"), std::string::npos) << out;
  // A backend lacking the route asked is the operator's problem, said as such.
  backend_.answer = Status::Unimplemented("the controller does not implement GET /v2/hooks/keys");
  auto [rc_stock, out_stock] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc_stock, 1);
  EXPECT_NE(out_stock.find("pushgate is misconfigured on the server; tell the platform operator"), std::string::npos)
      << out_stock;
  EXPECT_EQ(out_stock.find("/v2/hooks"), std::string::npos) << out_stock;
  backend_.answer = Status::Unavailable("the platform controller is unavailable, try again shortly");
  auto [rc2, out2] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("unavailable, try again shortly"), std::string::npos) << out2;
}

// An annotated tag pushed to a deploy branch: git refuses the ref only after
// the hook, so the hook must refuse it before building.
TEST_F(PreReceiveTest, ANonCommitOnADeployRefIsRefusedBeforeBuilding) {
  testing::RunOk({"git", "-C", dir_ / "work", "tag", "-a", "-m", "release", "v1"}, testing::GitEnv());
  std::string tag = testing::RunOk({"git", "-C", dir_ / "work", "rev-parse", "v1"}).substr(0, 40);
  commit_ = tag;
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos) << out;
  EXPECT_NE(out.find(tag.substr(0, 7) + " is an annotated tag, not a commit"), std::string::npos) << out;
  EXPECT_NE(out.find("TAG^{commit}:main"), std::string::npos) << out;
}

TEST_F(PreReceiveTest, ATreeOverALimitIsRefusedBeforeArchivingOrBuilding) {
  commit_ = testing::CommitFiles(dir_ / "work", {{"big.bin", std::string(5000, 'x')}}, "big");
  config_.push.max_file_size = 4096;
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos) << out;
  EXPECT_NE(out.find("the pushed commit cannot be deployed: big.bin is 4.9 KiB, more than push.max_file_size "
                     "(4.0 KiB)."),
            std::string::npos)
      << out;
  EXPECT_TRUE(!PathExists(config_.dirs().Tmp()) || ListDir(config_.dirs().Tmp())->empty());
}

TEST_F(PreReceiveTest, ASymlinkOutOfTheReleaseIsRefused) {
  ASSERT_EQ(::symlink("/etc/shadow", (dir_ / "work/abs").c_str()), 0);
  commit_ = testing::CommitFiles(dir_ / "work", {}, "link");
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("the symlink abs points outside the app (to /etc/shadow)"), std::string::npos) << out;
  config_.deploy.allow_external_symlinks = true;
  auto [rc2, out2] = RunHook("echo built\n");
  EXPECT_EQ(rc2, 0) << out2;
}

// The archive counts against build.timeout: a timeout shorter than the
// archiving of a big file stops it, and the archive is removed.
TEST_F(PreReceiveTest, ArchivingCountsAgainstTheBuildTimeout) {
  testing::RunOk({"truncate", "-s", "300M", dir_ / "work/big.bin"});
  testing::RunOk({"git", "-C", dir_ / "work", "add", "big.bin"}, testing::GitEnv());
  testing::RunOk({"git", "-C", dir_ / "work", "commit", "-q", "-m", "big"}, testing::GitEnv());
  commit_ = testing::RunOk({"git", "-C", dir_ / "work", "rev-parse", "HEAD"}).substr(0, 40);
  config_.build.timeout = std::chrono::milliseconds(200);
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.find("SHOULD-NOT-RUN"), std::string::npos) << out;
  EXPECT_NE(out.find("Build timed out after 200ms."), std::string::npos) << out;
  EXPECT_TRUE(ListDir(config_.dirs().Tmp())->empty());
}

TEST_F(PreReceiveTest, AReleaseThatDoesNotFitOnDiskIsRefusedBeforeArchiving) {
  testing::RunOk({"truncate", "-s", "300M", dir_ / "work/big.bin"});
  testing::RunOk({"git", "-C", dir_ / "work", "add", "big.bin"}, testing::GitEnv());
  testing::RunOk({"git", "-C", dir_ / "work", "commit", "-q", "-m", "big"}, testing::GitEnv());
  commit_ = testing::RunOk({"git", "-C", dir_ / "work", "rev-parse", "HEAD"}).substr(0, 40);
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  ASSERT_TRUE(MakeDirs(dir_ / "data", 0755).ok());
  testing::RunOk({"mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir_ / "data"});
  auto [rc, out] = RunHook("echo SHOULD-NOT-RUN\n");
  testing::RunCommand({"umount", "-l", dir_ / "data"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("the gateway does not have enough disk space for this release (it needs about 301.0 MiB, "),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("Write failed"), std::string::npos) << out;
}

TEST_F(PreReceiveTest, UnwritableTmpDirIsAClearRejection) {
  testing::WriteFile(dir_ / "data", "not a directory");
  auto [rc, out] = RunHook("exit 0\n");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("tell the platform operator"), std::string::npos) << out;
}

// The pushgate driver: the source goes to the controller, which builds. What
// the pusher is told when the controller cannot or will not.
class ControllerPreReceiveTest : public ::testing::Test {
 protected:
  void Start(FakeController::Options options = {}) {
    fake_ = std::make_unique<FakeController>(options);
    fake_->AddApp("web", {"alice"});
    config_ = TestConfig(dir_ / "data");
    config_.mode = Mode::kController;
    config_.build.driver = BuildDriver::kPushgate;
    config_.controller.url = fake_->url();
    config_.controller.token_file = dir_ / "token";
    testing::WriteFile(config_.controller.token_file, options.token + "\n", 0600);
    commit_ = testing::MakeRepoWithCommit(dir_ / "work", {{"app.txt", "hello"}});
  }

  std::pair<int, std::string> RunHook() {
    Result<GitRepo> repo = GitRepo::Open(dir_ / "work/.git");
    EXPECT_TRUE(repo.ok());
    UniqueFd out(::open((dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    HookContext context{&config_, "web", "alice", "alice", "SHA256:k", "0a1b2c3d", {}, dir_ / "libexec", out.get(), -1, nullptr,
                        nullptr};
    int rc = RunPreReceive(context, *repo, {{kZero, commit_, "refs/heads/main"}});
    return {rc, testing::ReadFile(dir_ / "out")};
  }

  TempDir dir_;
  std::unique_ptr<FakeController> fake_;
  Config config_;
  std::string commit_;
};

TEST_F(ControllerPreReceiveTest, AControllerWithoutTheBuildApiIsAMisconfiguration) {
  Start(FakeController::Stock());
  auto [rc, out] = RunHook();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("pushgate is misconfigured on the server; tell the platform operator."), std::string::npos)
      << out;
  EXPECT_EQ(out.find("<"), std::string::npos) << out;  // no HTML from the controller
}

TEST_F(ControllerPreReceiveTest, ABuildOutlivingTheTimeoutIsGivenUpOn) {
  Start();
  FakeController::BuildScript endless;
  endless.outcome = "";
  fake_->SetBuildScript(endless);
  config_.build.timeout = std::chrono::seconds(1);
  auto [rc, out] = RunHook();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("Gave up waiting for the build after 1s; the build was cancelled on the platform."),
            std::string::npos)
      << out;
  ASSERT_EQ(fake_->Builds().size(), 1u);
  EXPECT_TRUE(fake_->Builds().at(0).cancelled);
}

TEST_F(ControllerPreReceiveTest, ARefusedSourceTellsThePusherToTellTheOperator) {
  Start();
  // The first request asks whether the controller has the source; the
  // upload after it is refused.
  fake_->InjectFault("/v2/hooks/sources", FakeController::Fault::kBadRequest, 1, std::chrono::seconds(0), 1);
  auto [rc, out] = RunHook();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("the controller refused the source (400): the body does not match its digest; tell the "
                     "platform operator."),
            std::string::npos)
      << out;
  EXPECT_TRUE(fake_->Builds().empty());
}

}  // namespace
}  // namespace pushgate
