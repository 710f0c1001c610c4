#include "reaper/reaper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "reaper/trash.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/process.h"

namespace pushgate {
namespace {

using AppState = Backend::AppState;
using testing::FakeController;
using testing::TempDir;

// A backend whose answers the test sets; `after_first` replaces an app's
// answer from its second question on (the re-check before removal).
class ScriptedBackend : public Backend {
 public:
  Status Authorize(std::string_view, std::string_view, const Credential&, Access) override { return Status::OK(); }
  std::vector<AppState> CheckApps(const std::vector<std::string>& apps) override {
    std::vector<AppState> out;
    for (const std::string& app : apps) {
      int asked = asked_[app]++;
      auto later = after_first.find(app);
      if (asked > 0 && later != after_first.end()) {
        out.push_back(later->second);
      } else {
        auto it = states.find(app);
        out.push_back(it == states.end() ? AppState::kUnknown : it->second);
      }
    }
    return out;
  }
  std::map<std::string, AppState> states;
  std::map<std::string, AppState> after_first;

 private:
  std::map<std::string, int> asked_;
};

void SetAge(const std::string& path, std::chrono::seconds age) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age.count();
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

class ReaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = dir_.path();
    config_.reaper.grace = std::chrono::minutes(10);
    config_.reaper.max_fraction = 1.0;
    config_.reaper.max_per_run = 1000;
  }
  // A repository last pushed `age` ago.
  void MakeRepo(const std::string& app, std::chrono::seconds age = std::chrono::hours(1)) {
    std::string repo = config_.dirs().Repo(app);
    ASSERT_TRUE(MakeDirs(repo + "/refs/heads", 0755).ok());
    testing::WriteFile(repo + "/refs/heads/main", std::string(40, 'a') + "\n");
    testing::WriteFile(repo + "/HEAD", "ref: refs/heads/main\n");
    for (const std::string& p : {repo + "/refs/heads/main", repo + "/HEAD", repo + "/refs/heads", repo}) SetAge(p, age);
  }
  bool RepoExists(const std::string& app) { return ListDir(config_.dirs().Repo(app)).ok(); }
  ReapSummary Run(bool dry_run = false, bool force = false) {
    ReapOptions options;
    options.dry_run = dry_run;
    options.force = force;
    return Reap(config_, backend_, options);
  }

  TempDir dir_;
  Config config_;
  ScriptedBackend backend_;
};

TEST_F(ReaperTest, DeletedAppsGoExistingAppsStay) {
  MakeRepo("live");
  MakeRepo("old-one");
  MakeRepo("old-two");
  backend_.states = {{"live", AppState::kExists}, {"old-one", AppState::kGone}, {"old-two", AppState::kGone}};
  ReapSummary s = Run();
  EXPECT_EQ(s.scanned, 3);
  EXPECT_EQ(s.kept, 1);
  EXPECT_EQ(s.removed, 2);
  EXPECT_EQ(s.ExitCode(), 0);
  EXPECT_TRUE(RepoExists("live"));
  EXPECT_FALSE(RepoExists("old-one"));
  EXPECT_FALSE(RepoExists("old-two"));
  EXPECT_TRUE(ListDir(config_.dirs().Trash())->empty());
  EXPECT_NE(s.ToJson().find("\"removed\":2"), std::string::npos) << s.ToJson();
}

TEST_F(ReaperTest, RecentPushesAndPushesInProgressAreKept) {
  MakeRepo("fresh", std::chrono::seconds(30));  // pushed 30 s ago, grace 10 min
  MakeRepo("busy");
  MakeRepo("stale");
  backend_.states = {{"fresh", AppState::kGone}, {"busy", AppState::kGone}, {"stale", AppState::kGone}};
  ASSERT_TRUE(MakeDirs(config_.dirs().Locks(), 0755).ok());
  Result<FileLock> push = FileLock::TryAcquire(config_.dirs().AppLock("busy"));
  ASSERT_TRUE(push.ok());
  SetAge(config_.dirs().AppLock("busy"), std::chrono::hours(1));
  ReapSummary s = Run();
  EXPECT_EQ(s.skipped_recent, 1);
  EXPECT_EQ(s.skipped_locked, 1);
  EXPECT_EQ(s.removed, 1);
  EXPECT_TRUE(RepoExists("fresh"));
  EXPECT_TRUE(RepoExists("busy"));
  EXPECT_FALSE(RepoExists("stale"));
}

TEST_F(ReaperTest, AppRecreatedBetweenCheckAndRemovalIsKept) {
  MakeRepo("phoenix");
  backend_.states = {{"phoenix", AppState::kGone}};
  backend_.after_first = {{"phoenix", AppState::kExists}};
  ReapSummary s = Run();
  EXPECT_EQ(s.recreated, 1);
  EXPECT_EQ(s.removed, 0);
  EXPECT_TRUE(RepoExists("phoenix"));
}

TEST_F(ReaperTest, UncertainAnswersDeleteNothing) {
  MakeRepo("a");
  MakeRepo("b");
  backend_.states = {{"a", AppState::kUnknown}};  // b: no answer at all
  ReapSummary s = Run();
  EXPECT_EQ(s.skipped_unknown, 2);
  EXPECT_EQ(s.removed, 0);
  EXPECT_EQ(s.ExitCode(), 1);
  EXPECT_TRUE(RepoExists("a"));
  EXPECT_TRUE(RepoExists("b"));
}

TEST_F(ReaperTest, CircuitBreakerStopsMassDeletionUnlessForced) {
  for (int i = 0; i < 20; ++i) {
    std::string app = "app-" + std::to_string(i);
    MakeRepo(app);
    backend_.states[app] = i < 3 ? AppState::kGone : AppState::kExists;
  }
  config_.reaper.max_fraction = 0.1;  // 3 of 20 is 15%
  config_.reaper.min_allowed = 0;
  ReapSummary tripped = Run();
  EXPECT_TRUE(tripped.breaker_tripped);
  EXPECT_EQ(tripped.removed, 0);
  EXPECT_EQ(tripped.ExitCode(), 3);
  EXPECT_NE(tripped.breaker_reason.find("3 of 20"), std::string::npos) << tripped.breaker_reason;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(RepoExists("app-" + std::to_string(i)));

  config_.reaper.max_fraction = 1.0;
  config_.reaper.max_per_run = 2;
  EXPECT_TRUE(Run().breaker_tripped);

  ReapSummary forced = Run(false, true);
  EXPECT_FALSE(forced.breaker_tripped);
  EXPECT_EQ(forced.removed, 3);
}

// On a small gateway one deleted app is more than 10% of its repositories;
// a few removals per run are allowed whatever the fraction.
TEST_F(ReaperTest, AFewDeletionsOnASmallGatewayAreAllowed) {
  config_.reaper.max_fraction = 0.1;
  config_.reaper.max_per_run = 100;
  config_.reaper.min_allowed = 3;
  MakeRepo("only");
  backend_.states["only"] = AppState::kGone;
  ReapSummary one = Run();
  EXPECT_FALSE(one.breaker_tripped) << one.breaker_reason;
  EXPECT_EQ(one.removed, 1);
  EXPECT_EQ(one.ExitCode(), 0);
  for (int i = 0; i < 5; ++i) {
    MakeRepo("small-" + std::to_string(i));
    backend_.states["small-" + std::to_string(i)] = i < 4 ? AppState::kGone : AppState::kExists;
  }
  ReapSummary four = Run();  // 4 of 5: more than min_allowed (3) and than 10%
  EXPECT_TRUE(four.breaker_tripped);
  EXPECT_NE(four.breaker_reason.find("more than reaper.min_allowed (3)"), std::string::npos) << four.breaker_reason;
}

// A controller that says every app is gone must not wipe the gateway.
TEST_F(ReaperTest, BackendClaimingEverythingIsGoneRemovesNothing) {
  for (int i = 0; i < 50; ++i) {
    MakeRepo("app-" + std::to_string(i));
    backend_.states["app-" + std::to_string(i)] = AppState::kGone;
  }
  config_.reaper.max_fraction = 0.1;
  config_.reaper.max_per_run = 100;
  ReapSummary s = Run();
  EXPECT_TRUE(s.breaker_tripped);
  EXPECT_EQ(ListDir(config_.dirs().Repos())->size(), 50u);
}

TEST_F(ReaperTest, CrashBetweenRenameAndDeleteIsFinishedByTheNextRun) {
  MakeRepo("live");
  backend_.states = {{"live", AppState::kExists}};
  std::string left = config_.dirs().Trash() + "/gone.git.1a2b3c4d";
  ASSERT_TRUE(MakeDirs(left + "/objects/pack", 0755).ok());
  testing::WriteFile(left + "/objects/pack/pack-1.pack", "data");
  ReapSummary s = Run();
  EXPECT_EQ(s.trash_finished, 1);
  EXPECT_TRUE(ListDir(config_.dirs().Trash())->empty());
  EXPECT_TRUE(RepoExists("live"));
}

TEST_F(ReaperTest, DryRunChangesNothing) {
  MakeRepo("gone");
  backend_.states = {{"gone", AppState::kGone}};
  ASSERT_TRUE(MakeDirs(config_.dirs().Tmp(), 0755).ok());
  testing::WriteFile(config_.dirs().Tmp() + "/gone-abc.tar.gz", "x");
  SetAge(config_.dirs().Tmp() + "/gone-abc.tar.gz", std::chrono::hours(2));
  ReapSummary s = Run(true);
  EXPECT_EQ(s.removed, 1);
  EXPECT_EQ(s.removed_apps, std::vector<std::string>{"gone"});
  EXPECT_TRUE(RepoExists("gone"));
  EXPECT_TRUE(ListDir(config_.dirs().Tmp()).ok() && ListDir(config_.dirs().Tmp())->size() == 1);
  EXPECT_NE(s.ToJson().find("\"would_remove\":1"), std::string::npos) << s.ToJson();
}

TEST_F(ReaperTest, LeftoversOlderThanTheGracePeriodGo) {
  MakeRepo("live");
  backend_.states = {{"live", AppState::kExists}};
  ASSERT_TRUE(MakeDirs(config_.dirs().Tmp(), 0755).ok());
  ASSERT_TRUE(MakeDirs(config_.dirs().Locks(), 0755).ok());
  testing::WriteFile(config_.dirs().Tmp() + "/crashed.tar.gz", "x");
  SetAge(config_.dirs().Tmp() + "/crashed.tar.gz", std::chrono::hours(2));
  testing::WriteFile(config_.dirs().Tmp() + "/building.tar.gz", "x");
  testing::WriteFile(config_.dirs().AppLock("deleted-long-ago"), "");
  SetAge(config_.dirs().AppLock("deleted-long-ago"), std::chrono::hours(2));
  testing::WriteFile(config_.dirs().AppLock("live"), "");
  SetAge(config_.dirs().AppLock("live"), std::chrono::hours(2));
  // A deploy killed outright left its staging directory; another is
  // unpacking right now.
  std::string releases = config_.dirs().Releases() + "/live";
  ASSERT_TRUE(MakeDirs(releases + "/.tmp-v3-abcdef0/lib", 0755).ok());
  testing::WriteFile(releases + "/.tmp-v3-abcdef0/lib/x", "x");
  SetAge(releases + "/.tmp-v3-abcdef0", std::chrono::hours(2));
  ASSERT_TRUE(MakeDirs(releases + "/.tmp-v4-1234567", 0755).ok());
  ASSERT_TRUE(MakeDirs(releases + "/v2-7654321", 0755).ok());
  SetAge(releases + "/v2-7654321", std::chrono::hours(2));
  // A release retired by a deploy whose deleter died, whatever its age, and
  // one whose deleter is at work (it holds the entry's lock).
  ASSERT_TRUE(MakeDirs(releases + "/.retired-v1-1111111.0a0b/lib", 0755).ok());
  testing::WriteFile(releases + "/.retired-v1-1111111.0a0b/lib/x", "x");
  ASSERT_TRUE(MakeDirs(releases + "/.retired-v0-2222222.0c0d", 0755).ok());
  UniqueFd deleting(::open((releases + "/.retired-v0-2222222.0c0d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(deleting.get(), LOCK_EX | LOCK_NB), 0);
  ReapSummary s = Run();
  EXPECT_EQ(s.leftovers_removed, 4);
  EXPECT_EQ(s.errors, 0);
  EXPECT_EQ(*ListDir(config_.dirs().Tmp()), std::vector<std::string>{"building.tar.gz"});
  EXPECT_EQ(*ListDir(config_.dirs().Locks()), std::vector<std::string>{"live.lock"});
  EXPECT_EQ(*ListDir(releases),
            (std::vector<std::string>{".retired-v0-2222222.0c0d", ".tmp-v4-1234567", "v2-7654321"}));
}

// Every file under `dir` with its size, relative to `dir`; empty if `dir`
// does not exist.
std::map<std::string, uintmax_t> FileSizes(const std::string& dir) {
  std::map<std::string, uintmax_t> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out[std::filesystem::relative(it->path(), dir).string()] = it->file_size();
  }
  return out;
}

// kill -9 at random points of a run (scanning, asking, renaming, deleting,
// emptying the trash, cleaning leftovers), 100 times: afterwards every
// repository under repos/ is whole (a repository is renamed away in one
// step, never deleted in place), every live app's repository is there, no
// lock is held, and the next uninterrupted run finishes the job.
TEST_F(ReaperTest, HundredKillsAtRandomPointsOfARunLeaveNoHalfRemovedRepository) {
  config_.reaper.grace = std::chrono::seconds(0);
  constexpr int kApps = 40;  // even: the app exists; odd: it is gone
  auto app_name = [](int i) { return "app-" + std::to_string(i); };
  auto make_full_repo = [&](const std::string& app) {
    MakeRepo(app);
    for (int f = 0; f < 24; ++f) {
      std::string objects = config_.dirs().Repo(app) + "/objects/" + std::to_string(f % 16);
      ASSERT_TRUE(MakeDirs(objects, 0755).ok());
      testing::WriteFile(objects + "/" + std::to_string(f), std::string(2048, 'o'));
    }
  };
  for (int i = 0; i < kApps; ++i) {
    make_full_repo(app_name(i));
    backend_.states[app_name(i)] = i % 2 == 0 ? AppState::kExists : AppState::kGone;
  }
  const std::map<std::string, uintmax_t> whole = FileSizes(config_.dirs().Repo(app_name(0)));

  auto gone_repos_left = [&] {
    int left = 0;
    for (int i = 1; i < kApps; i += 2) left += RepoExists(app_name(i)) ? 1 : 0;
    return left;
  };
  // A run in a child process, killed at `delay` after its start, or as soon
  // as `renamed` gone repositories have left repos/; neither given, it runs
  // to the end. Returns true if the kill landed while the run was going on.
  auto run_and_kill = [&](std::chrono::microseconds delay, int renamed = 0) {
    pid_t child = ::fork();
    if (child == 0) {
      Run();
      ::_exit(0);
    }
    if (delay.count() > 0) {
      std::this_thread::sleep_for(delay);
      ::kill(child, SIGKILL);
    } else if (renamed > 0) {
      while (gone_repos_left() > kApps / 2 - renamed) std::this_thread::sleep_for(std::chrono::microseconds(10));
      ::kill(child, SIGKILL);
    }
    Result<ExitStatus> status = WaitForExit(child);
    return status.ok() && status->signal == SIGKILL;
  };
  auto restore_gone_repos = [&] {
    for (int i = 1; i < kApps; i += 2) {
      if (!RepoExists(app_name(i))) make_full_repo(app_name(i));
    }
  };
  // Kill points spread over an uninterrupted run's duration (the shortest
  // of three: a busy machine makes some runs slow), and in every other round
  // just after a random number of renames: the renames are a small part of a
  // run (the trees are deleted on a second thread meanwhile and after), too
  // short for a timer to hit often.
  auto run_time = std::chrono::microseconds::max();
  for (int i = 0; i < 3; ++i) {
    restore_gone_repos();
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(run_and_kill(std::chrono::microseconds(0)));
    run_time = std::min(run_time, std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - start));
  }

  std::mt19937_64 rng(20261123);
  int killed_mid_run = 0, cut_between_removals = 0;
  for (int round = 0; round < 100; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    restore_gone_repos();
    bool killed = round % 2 == 0
                      ? run_and_kill(std::chrono::microseconds(1 + rng() % static_cast<uint64_t>(run_time.count())))
                      : run_and_kill(std::chrono::microseconds(0), 1 + static_cast<int>(rng() % (kApps / 2 - 1)));
    if (killed) ++killed_mid_run;
    int gone_left = 0;
    for (int i = 0; i < kApps; ++i) {
      std::string app = app_name(i);
      std::map<std::string, uintmax_t> files = FileSizes(config_.dirs().Repo(app));
      if (i % 2 == 0 || !files.empty()) {
        ASSERT_EQ(files, whole) << app << "'s repository is not whole";
      }
      if (i % 2 == 1 && !files.empty()) ++gone_left;
      ASSERT_FALSE(*FileLock::IsHeld(config_.dirs().AppLock(app))) << app;
    }
    if (gone_left > 0 && gone_left < kApps / 2) ++cut_between_removals;
  }
  std::cout << "uninterrupted run " << run_time.count() << " us; " << killed_mid_run << " kills landed mid-run, "
            << cut_between_removals << " between two removals\n";
  EXPECT_GE(killed_mid_run, 30) << "the kills should land during runs";
  EXPECT_GE(cut_between_removals, 10) << "the kills should land between removals";

  ReapSummary last = Run();
  EXPECT_EQ(last.errors, 0);
  EXPECT_TRUE(ListDir(config_.dirs().Trash())->empty());
  for (int i = 0; i < kApps; ++i) {
    EXPECT_EQ(RepoExists(app_name(i)), i % 2 == 0) << app_name(i);
    if (i % 2 == 0) {
      EXPECT_EQ(FileSizes(config_.dirs().Repo(app_name(i))), whole) << app_name(i);
    }
  }
}

// The trash emptier deletes on its own thread what it is given, by the
// time Finish returns; a stop leaves entries to the next run's FinishTrash.
std::vector<std::string> MakeTrashEntries(const std::string& dir, int count) {
  std::vector<std::string> entries;
  for (int i = 0; i < count; ++i) {
    std::string entry = dir + "/app-" + std::to_string(i) + ".git.0000000" + std::to_string(i % 10);
    EXPECT_TRUE(MakeDirs(entry + "/refs/heads", 0755).ok());
    testing::WriteFile(entry + "/refs/heads/main", std::string(40, 'a') + "\n");
    testing::WriteFile(entry + "/HEAD", "ref: refs/heads/main\n");
    entries.push_back(entry);
  }
  return entries;
}

TEST(TrashEmptierTest, DeletesEverythingAddedByTheTimeFinishReturns) {
  TempDir dir;
  TrashEmptier emptier;
  for (std::string& entry : MakeTrashEntries(dir.path(), 50)) emptier.Add(std::move(entry));
  TrashEmptier::Outcome outcome = emptier.Finish();
  EXPECT_EQ(outcome.deleted, 50);
  EXPECT_EQ(outcome.failed, 0);
  EXPECT_TRUE(ListDir(dir.path())->empty());
  EXPECT_EQ(emptier.Finish().deleted, 50);  // a second Finish repeats the outcome
}

TEST(TrashEmptierTest, AFailedEntryIsCountedAndTheOthersStillGo) {
  TempDir dir;
  std::vector<std::string> entries = MakeTrashEntries(dir.path(), 2);
  TrashEmptier emptier;
  emptier.Add(entries[0]);
  emptier.Add(dir.path() + "/" + std::string(300, 'x'));  // ENAMETOOLONG
  emptier.Add(entries[1]);
  TrashEmptier::Outcome outcome = emptier.Finish();
  EXPECT_EQ(outcome.deleted, 2);
  EXPECT_EQ(outcome.failed, 1);
  EXPECT_TRUE(ListDir(dir.path())->empty());
}

TEST(TrashEmptierTest, AStopLeavesTheRestToTheNextRun) {
  TempDir dir;
  std::atomic<bool> stop{true};
  TrashEmptier emptier(&stop);
  for (std::string& entry : MakeTrashEntries(dir.path(), 3)) emptier.Add(std::move(entry));
  TrashEmptier::Outcome outcome = emptier.Finish();
  EXPECT_EQ(outcome.deleted + outcome.failed, 0);
  EXPECT_EQ(ListDir(dir.path())->size(), 3u);
}

// `pushgate app rm --purge`: at once, but never under a running push.
TEST_F(ReaperTest, PurgeRemovesNowUnlessAPushRuns) {
  MakeRepo("busy");
  MakeRepo("idle");
  ASSERT_TRUE(MakeDirs(config_.dirs().Locks(), 0755).ok());
  Result<FileLock> push = FileLock::TryAcquire(config_.dirs().AppLock("busy"));
  ASSERT_TRUE(push.ok());
  Status refused = PurgeRepository(config_, "busy");
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.message().find("a push to busy is in progress"), std::string::npos) << refused.message();
  EXPECT_TRUE(RepoExists("busy"));
  EXPECT_TRUE(PurgeRepository(config_, "idle").ok());
  EXPECT_FALSE(RepoExists("idle"));
  EXPECT_TRUE(PurgeRepository(config_, "never-pushed").ok());
  EXPECT_TRUE(ListDir(config_.dirs().Trash())->empty());
}

TEST_F(ReaperTest, StopRequestEndsTheRunEarly) {
  MakeRepo("gone");
  backend_.states = {{"gone", AppState::kGone}};
  std::atomic<bool> stop{true};
  ReapOptions options;
  options.stop = &stop;
  ReapSummary s = Reap(config_, backend_, options);
  EXPECT_TRUE(s.stopped);
  EXPECT_TRUE(RepoExists("gone"));
}

// The controller backend: batched through the lookup extension, one by one
// through the Workflow endpoint otherwise; trouble is "unknown", never "gone".
class ControllerAppCheckTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> Open(FakeController& fake) {
    testing::WriteFile(dir_ / "token", "test-token\n", 0600);
    Config config;
    config.mode = Mode::kController;
    config.controller.url = fake.url();
    config.controller.token_file = dir_ / "token";
    config.controller.timeout = std::chrono::milliseconds(1500);
    return std::move(OpenBackend(config)).value();
  }
  TempDir dir_;
};

TEST_F(ControllerAppCheckTest, BatchLookup) {
  FakeController fake;
  fake.AddApp("web", {});
  std::unique_ptr<Backend> backend = Open(fake);
  std::vector<std::string> apps = {"web", "old"};
  for (int i = 0; i < 1500; ++i) apps.push_back("x-" + std::to_string(i));
  std::vector<AppState> states = backend->CheckApps(apps);
  EXPECT_EQ(states[0], AppState::kExists);
  EXPECT_EQ(states[1], AppState::kGone);
  EXPECT_EQ(states.back(), AppState::kGone);
  EXPECT_EQ(fake.Requests("/v2/hooks/apps/lookup"), 2);  // 1,502 names: two batches
  EXPECT_EQ(fake.Requests("/v2/hooks/keys/"), 0);
}

TEST_F(ControllerAppCheckTest, WorkflowFallback) {
  FakeController::Options options;
  options.app_lookup = false;
  FakeController fake(options);
  fake.AddApp("web", {});
  std::unique_ptr<Backend> backend = Open(fake);
  std::vector<AppState> states = backend->CheckApps({"web", "old"});
  EXPECT_EQ(states, (std::vector<AppState>{AppState::kExists, AppState::kGone}));
  EXPECT_EQ(fake.Requests("/v2/hooks/keys/web"), 1);
  EXPECT_EQ(fake.Requests("/v2/hooks/keys/old"), 1);
  // The missing extension is remembered: no second lookup request.
  backend->CheckApps({"web"});
  EXPECT_EQ(fake.Requests("/v2/hooks/apps/lookup"), 1);
}

// A stock Workflow controller: an app is gone only on the controller's own
// "No App matches" (a JSON 404); a wrong base path or a proxy's error page
// (an HTML 404, or anything else for an app that cannot exist) makes every
// app unknown. The probe costs one request per check.
TEST_F(ControllerAppCheckTest, OnlyTheControllersOwnNoSuchAppIsGone) {
  FakeController fake(FakeController::Stock());
  fake.AddApp("web", {});
  std::unique_ptr<Backend> backend = Open(fake);
  EXPECT_EQ(backend->CheckApps({"web", "old"}), (std::vector<AppState>{AppState::kExists, AppState::kGone}));
  EXPECT_EQ(fake.Requests("/v2/hooks/keys/pushgate-probe-"), 1);
  fake.InjectFault("/v2/hooks/keys/pushgate-probe-", FakeController::Fault::kServerError);
  EXPECT_EQ(backend->CheckApps({"web", "old"}), (std::vector<AppState>(2, AppState::kUnknown)));

  Config wrong;
  wrong.mode = Mode::kController;
  wrong.controller.url = fake.url() + "/not-the-api";
  wrong.controller.token_file = dir_ / "token";
  std::unique_ptr<Backend> misdirected = std::move(OpenBackend(wrong)).value();
  EXPECT_EQ(misdirected->CheckApps({"web", "old"}), (std::vector<AppState>(2, AppState::kUnknown)));
}

TEST_F(ControllerAppCheckTest, TroubleIsUnknownNeverGone) {
  FakeController fake;
  fake.AddApp("web", {});
  std::unique_ptr<Backend> backend = Open(fake);
  for (FakeController::Fault fault : {FakeController::Fault::kServerError, FakeController::Fault::kMalformed,
                                      FakeController::Fault::kTruncated, FakeController::Fault::kWrongTypes}) {
    fake.InjectFault("/v2/hooks/apps/lookup", fault);
    EXPECT_EQ(backend->CheckApps({"web", "old"}), (std::vector<AppState>(2, AppState::kUnknown)))
        << static_cast<int>(fault);
  }
  fake.Stop();
  EXPECT_EQ(backend->CheckApps({"old"}), std::vector<AppState>{AppState::kUnknown});
}

// The sidecar keeps going through a controller outage without busy-looping
// and stops cleanly on SIGTERM.
TEST(ReaperLoopTest, SurvivesAnOutageAndStopsOnSigterm) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  FakeController fake;
  fake.Stop();  // down for the whole test
  testing::WriteFile(dir / "token", "test-token\n", 0644);
  testing::WriteFile(dir / "pushgate.toml",
                     "mode = \"controller\"\ndata_dir = \"" + dir.path() + "/data\"\n[build]\ndriver = \"pushgate\"\n"
                     "[controller]\nurl = \"" +
                         fake.url() + "\"\ntoken_file = \"" + dir.path() + "/token\"\n[log]\ndestination = \"" +
                         dir.path() + "/reaper.log\"\n");
  ASSERT_TRUE(MakeDirs(dir / "data/repos/web.git", 0777).ok());
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  SpawnSpec spec{"/usr/bin/setpriv",
                 {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", PUSHGATE_REAPER_BIN, "--config",
                  dir / "pushgate.toml", "--interval", "1s"},
                 {"PATH=/usr/bin:/bin"},
                 -1,
                 out[1],
                 out[1],
                 false,
                 ""};
  Result<pid_t> pid = Spawn(spec);
  ::close(out[1]);
  ASSERT_TRUE(pid.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ::kill(*pid, SIGTERM);
  Result<std::optional<ExitStatus>> done = WaitForExitUntil(*pid, std::chrono::seconds(10));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value()) << "no exit within 10 s of SIGTERM";
  EXPECT_TRUE((*done)->success()) << (*done)->Describe();
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  // First run at once, the retry after 5 s of backoff has not come yet: one
  // run, which kept the repo because the controller could not answer.
  EXPECT_NE(output.find("\"skipped_unknown\":1"), std::string::npos) << output;
  EXPECT_TRUE(ListDir(dir / "data/repos/web.git").ok());
}

}  // namespace
}  // namespace pushgate
