// kill -9 at random points of a push, through the real sshd (or
// pushgate-sshd): the victim is the pusher's git and ssh, or any one process
// serving the connection (sshd's per-connection processes, the keys helper,
// the shell; pushgate-sshd's pg-connection and pg-session;
// git-receive-pack and its index-pack, the hook and its git cat-file, the
// build, the deploy). Two setups: an app's build command that pauses (100
// kills), and the default in-hook deploy of a tree of many files (40 kills,
// landing in the hook's writing of the release). Every tenth round waits
// for the hook and kills it, so the hook is hit whatever its speed.
// After every kill: the app lock is released, the repository passes
// `git fsck --strict`, the branch is where it was or at the pushed commit,
// `current` is a whole release of one of those two commits (every file of
// the commit is there), no process of the push is left running, and the
// next push deploys.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gitrepo/gitrepo.h"
#include "tests/e2e/gateway.h"
#include "util/fs.h"
#include "util/lock.h"

namespace pushgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string GitDirRef(const std::string& repo, const std::string& ref) {
  CapturedRun run =
      RunCommand({"git", "-c", "safe.directory=*", "--git-dir", repo, "rev-parse", "--verify", "-q", ref});
  std::string out = run.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return run.status.success() ? out : "";
}

bool ReleaseIsOf(const std::string& release, const std::string& commit) {
  size_t dash = release.find('-');
  return dash != std::string::npos && !commit.empty() &&
         commit.compare(0, release.size() - dash - 1, release.substr(dash + 1)) == 0;
}

// The files and links of a release directory, all levels.
int CountReleaseFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  int files = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) ++files;
  }
  return ec ? -1 : files;
}

// Read from the pusher's clone: a refused push's commit may be deployed (the
// hook finished before the kill) yet gone from the server's repository.
int CommitFileCount(const std::string& clone, const std::string& commit) {
  CapturedRun run = RunCommand({"git", "-C", clone, "ls-tree", "-r", "--name-only", commit});
  return run.status.success() ? static_cast<int>(std::count(run.output.begin(), run.output.end(), '\n')) : -1;
}

struct KillLoop {
  bool app_build_steps;      // the app's own build command, which pauses
  int rounds;
  int tree_files;            // files in the pushed tree beyond README
  int min_victim_kinds;
};

void RunKillLoop(const KillLoop& setup) {
  TempDir keys, work;
  GatewayOptions options;
  options.app_build_steps = setup.app_build_steps;
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  ASSERT_NE(gateway, nullptr);
  TestKey alice = gateway->AddUserWithKey("alice", keys.path());
  gateway->AdminOk({"app", "create", "pause-crash", "--member", "alice"});
  if (setup.app_build_steps) gateway->SetBuild("pause-crash", "echo 'building'; sleep 0.3");
  const std::string url = gateway->Url("pause-crash");
  const std::string repo = gateway->data_dir() + "/repos/pause-crash.git";
  const std::string releases = gateway->data_dir() + "/releases/pause-crash";
  const std::string lock = gateway->data_dir() + "/locks/pause-crash.lock";
  std::string dir = work / "pause-crash";
  std::map<std::string, std::string> tree = {{"README", "crash test\n"}};
  for (int i = 0; i < setup.tree_files; ++i) {
    tree["src/" + std::to_string(i % 20) + "/file-" + std::to_string(i) + ".txt"] = std::string(2000, 'a' + i % 26);
  }
  MakeRepoWithCommit(dir, tree);

  // Pushes that nobody kills; their durations set the range of kill points.
  std::vector<Clock::duration> durations;
  auto push_and_deploy = [&](const std::string& why) {
    auto start = Clock::now();
    CapturedRun run = gateway->Git(alice, {"push", url, "main"}, dir);
    durations.push_back(Clock::now() - start);
    EXPECT_TRUE(run.status.success()) << why << ": " << run.output << gateway->Logs();
    EXPECT_NE(run.output.find("pause-crash deployed: v"), std::string::npos) << why << ": " << run.output;
  };
  push_and_deploy("first push");

  std::mt19937_64 rng(20261123);
  std::map<std::string, int> victims;  // process name -> kills
  int refused = 0, landed = 0;
  for (int round = 0; round < setup.rounds && !::testing::Test::HasFatalFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string before = GitDirRef(repo, "refs/heads/main");
    std::string attempted = CommitFiles(dir, {{"round", std::to_string(round) + "\n"}}, "round");
    std::vector<Clock::duration> sorted = durations;
    std::sort(sorted.begin(), sorted.end());
    auto typical = std::chrono::duration_cast<std::chrono::microseconds>(sorted[sorted.size() / 2]);

    // sshd's processes of the last push may still be winding down: they are
    // not this push's, so not victims.
    std::set<pid_t> earlier;
    for (const Gateway::ServerProcess& p : gateway->ServerProcesses()) earlier.insert(p.pid);
    std::unique_ptr<LiveGit> push = gateway->StartGit(alice, {"push", url, "main"}, dir);
    ASSERT_NE(push, nullptr);
    // Every tenth round aims at the hook: it waits (up to twice a typical
    // push) for pre-receive to run and kills that. The other rounds kill at a
    // random moment, where a hook that is quick to finish is rarely caught.
    bool aim_at_hook = round % 10 == 5;
    std::map<std::string, std::vector<pid_t>> serving;
    auto list_serving = [&] {
      serving.clear();
      for (const Gateway::ServerProcess& p : gateway->ServerProcesses()) {
        if (earlier.count(p.pid) == 0) serving[p.name].push_back(p.pid);
      }
    };
    if (aim_at_hook) {
      Clock::time_point give_up = Clock::now() + 2 * typical;
      for (list_serving(); serving.count("pre-receive") == 0 && Clock::now() < give_up; list_serving()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (serving.count("pre-receive") != 0) serving = {{"pre-receive", serving["pre-receive"]}};
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<uint64_t>(typical.count() + 1)));
      list_serving();
    }
    // A kind of process first (sshd, the keys helper, the shell, git, the
    // hook, the build, the deploy), so the short-lived ones are hit as often
    // as the sshd processes that live as long as the connection.
    bool client_killed = serving.empty() || (!aim_at_hook && rng() % 5 == 0);
    if (client_killed) {
      push->Kill();
      ++victims["git client"];
    } else {
      auto kind = std::next(serving.begin(), static_cast<long>(rng() % serving.size()));
      if (::kill(kind->second[rng() % kind->second.size()], SIGKILL) == 0) ++victims[kind->first];
    }
    ExitStatus status = client_killed ? ExitStatus{} : push->Finish();

    // The lock is free and everything the push started has ended (sshd's
    // own processes wind down in their own time, about a second).
    auto pushgate_processes = [&] {
      std::vector<std::string> names;
      for (const Gateway::ServerProcess& p : gateway->ServerProcesses()) {
        // The servers themselves: sshd's processes, and pushgate-sshd's
        // listener (its connections are pg-connection, and must end).
        if (p.name == "sshd" || p.name == "pushgate-sshd") continue;
        Result<std::string> wchan = ReadSmallFile("/proc/" + std::to_string(p.pid) + "/wchan");
        Result<std::string> stat = ReadSmallFile("/proc/" + std::to_string(p.pid) + "/stat");
        names.push_back(p.name + " (" + std::to_string(p.pid) + ", waiting in " + (wchan.ok() ? *wchan : "?") + ", " +
                        (stat.ok() ? *stat : "") + ")");
      }
      return names;
    };
    auto deadline = Clock::now() + std::chrono::seconds(60);
    ASSERT_TRUE(LockFreedWithin(lock, std::chrono::seconds(60)))
        << "the app lock is held 60 s after the kill\n" << gateway->Logs();
    // Deploys happen under the app lock: nothing may switch `current` once
    // it is free (a build orphaned by a killed hook would).
    std::string current = gateway->CurrentRelease("pause-crash");
    // One scan decides: sshd's winding-down processes of a killed
    // connection may still start a keys helper after it, which ends alone.
    std::vector<std::string> left = pushgate_processes();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      left = pushgate_processes();
    }
    ASSERT_TRUE(left.empty()) << left.size() << " processes of the push still run 60 s later, e.g. " << left.front();
    EXPECT_EQ(gateway->CurrentRelease("pause-crash"), current) << "a release was deployed after its push had ended";

    std::string after = GitDirRef(repo, "refs/heads/main");
    EXPECT_TRUE(after == before || after == attempted) << "the branch is at " << after;
    if (status.success()) {
      EXPECT_EQ(after, attempted) << "git reported a push that did not land:\n" << push->output();
    }
    if (after == attempted) {
      ++landed;
    } else {
      ++refused;
    }
    CapturedRun fsck = gateway->FsckRepo("pause-crash");
    EXPECT_TRUE(fsck.status.success()) << fsck.output;
    // The build of a refused push may have finished before its push was cut
    // off (pre-receive deploys, then git updates the branch), so `current`
    // is a release of the branch's commit or of the pushed one.
    EXPECT_TRUE(ReleaseIsOf(current, after) || ReleaseIsOf(current, attempted)) << "current -> " << current;
    EXPECT_TRUE(ListDir(releases + "/" + current).ok()) << "current names no release: " << current;
    std::string deployed = ReleaseIsOf(current, after) ? after : attempted;
    EXPECT_EQ(CountReleaseFiles(releases + "/" + current), CommitFileCount(dir, deployed))
        << "current is not a whole release of " << deployed;

    // The next push deploys.
    CommitFiles(dir, {{"next", std::to_string(round) + "\n"}}, "next");
    push_and_deploy("the push after the kill");
    EXPECT_TRUE(ReleaseIsOf(gateway->CurrentRelease("pause-crash"), GitDirRef(repo, "refs/heads/main")));
  }

  // Objects of killed pushes wait in quarantine directories, which the next
  // push's session removes under the app lock; the loop ended with a push.
  int quarantined = 0;
  Result<std::vector<std::string>> objects = ListDir(repo + "/objects");
  ASSERT_TRUE(objects.ok());
  for (const std::string& entry : *objects) quarantined += IsQuarantineDirName(entry);
  std::string summary;
  for (const auto& [name, count] : victims) summary += name + "=" + std::to_string(count) + " ";
  std::cout << "killed: " << summary << "| pushes refused " << refused << ", landed " << landed
            << "; quarantine directories left " << quarantined << "\n";
  // The kills must land inside pushes: on several kinds of process, with
  // most pushes cut off.
  EXPECT_GE(victims.size(), static_cast<size_t>(setup.min_victim_kinds)) << summary;
  EXPECT_GE(refused, setup.rounds * 2 / 5) << summary;
  EXPECT_GE(victims["pre-receive"], setup.rounds / 20) << "too few kills landed in the hook: " << summary;
  EXPECT_EQ(quarantined, 0) << "quarantine directories of killed pushes were left in the repository";
}

TEST(PushCrashTest, HundredKillsAtRandomPointsOfAPushLoseNothing) {
  RunKillLoop({/*app_build_steps=*/true, /*rounds=*/100, /*tree_files=*/0, /*min_victim_kinds=*/5});
}

// The default deploy runs inside the hook: kills land while it writes the
// release, and the next push must still find the app whole and deploy.
TEST(PushCrashTest, KillsDuringTheHooksOwnDeployLeaveAWholeRelease) {
  RunKillLoop({/*app_build_steps=*/false, /*rounds=*/40, /*tree_files=*/600, /*min_victim_kinds=*/4});
}

}  // namespace
}  // namespace pushgate::testing
