// End-to-end under load: many pushes at once through sshd in controller
// mode while the sync daemon keeps the key cache warm.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/e2e/gateway.h"
#include "tests/fake_controller/fake_controller.h"

namespace pushgate::testing {
namespace {

constexpr int kApps = 10;
constexpr int kPushesPerApp = 5;

// One hook run of one app, from pushgate.log: when its build started (after
// the app lock) and when the hook finished (before the lock is released).
struct HookSpan {
  std::string start, end;  // ISO 8601 UTC with milliseconds: ordered as text
};

// The lines of the gateway's pushgate.log.
std::vector<std::string> LogLines(const Gateway& gateway) {
  std::istringstream log(ReadFile(gateway.data_dir() + "/pushgate.log"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(log, line);) lines.push_back(std::move(line));
  return lines;
}

// Every hook run of each app, keyed by app, in start order.
std::map<std::string, std::vector<HookSpan>> HookSpans(const std::vector<std::string>& log) {
  static const std::regex kField(R"re("(time|msg|request_id|app)":"([^"]*)")re");
  std::map<std::string, HookSpan> by_request;
  std::map<std::string, std::string> app_of;
  for (const std::string& line : log) {
    std::map<std::string, std::string> fields;
    for (std::sregex_iterator it(line.begin(), line.end(), kField), last; it != last; ++it) {
      fields.emplace((*it)[1].str(), (*it)[2].str());  // the first of each: the line's own
    }
    if (fields["request_id"].empty() || fields["app"].rfind("load-", 0) != 0) continue;
    HookSpan& span = by_request[fields["request_id"]];
    app_of[fields["request_id"]] = fields["app"];
    if (fields["msg"] == "build starting") span.start = fields["time"];
    if (fields["msg"] == "hook finished") span.end = fields["time"];
  }
  std::map<std::string, std::vector<HookSpan>> spans;
  for (const auto& [request, span] : by_request) {
    if (!span.start.empty()) spans[app_of[request]].push_back(span);
  }
  for (auto& [app, list] : spans) {
    std::sort(list.begin(), list.end(), [](const HookSpan& a, const HookSpan& b) { return a.start < b.start; });
  }
  return spans;
}

// 50 pushes across 10 apps, all started together, while pushgate-sync
// --daemon runs (started as the image starts it): every push ends deployed
// or with a clear message, pushes to one app are serialized by its lock, no
// repository is corrupted and no lock is left held.
TEST(LoadTest, FiftyConcurrentPushesWhileTheSyncDaemonRuns) {
  TempDir keys, work;
  // Room for every push's log stream and access check at once: the point is
  // pushgate under load, not a saturated fake.
  FakeController::Options fake_options;
  fake_options.threads = 128;
  FakeController fake(fake_options);
  TestKey alice = MakeKey(keys.path(), "alice");
  fake.AddKey("alice", alice.public_line);
  for (int a = 0; a < kApps; ++a) fake.AddApp("load-" + std::to_string(a), {"alice"});
  fake.Start();
  GatewayOptions options;
  options.controller_url = fake.url();
  // All 50 pushes are alice's: a per-pusher limit would refuse most of them.
  options.extra_config =
      "[cache]\nrefresh_after = \"1s\"\nsync_deadline = \"5s\"\n[push]\nmax_pushes_per_user = 0\n";
  // The fake serves with cpp-httplib as Debian builds it, whose listen
  // backlog is 5: in a burst, connections beyond it are dropped and retried
  // by the kernel after 1, 3, 7 and 15 s, and under the sanitizers 50 hooks
  // asking at once can wait longer than the 3 s default for an answer (one
  // push of 50 was refused so, "controller unavailable"). This test is about
  // correctness under load, not the controller's latency.
  options.controller_connect_timeout = "16s";
  options.controller_timeout = "30s";
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  ASSERT_NE(gateway, nullptr);

  Result<pid_t> sync_pid = gateway->StartSidecar("sync", {}, "");
  ASSERT_TRUE(sync_pid.ok()) << sync_pid.status().ToString();

  struct Pusher {
    std::string app, commit;
    std::unique_ptr<LiveGit> git;
  };
  std::vector<Pusher> pushers;
  for (int a = 0; a < kApps; ++a) {
    for (int p = 0; p < kPushesPerApp; ++p) {
      Pusher pusher;
      pusher.app = "load-" + std::to_string(a);
      std::string dir = work / (pusher.app + "-" + std::to_string(p));
      pusher.commit = MakeRepoWithCommit(dir, {{"index.html", dir + "\n"}});
      pushers.push_back(std::move(pusher));
    }
  }
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < pushers.size(); ++i) {
    std::string dir = work / (pushers[i].app + "-" + std::to_string(i % kPushesPerApp));
    // Force: each work tree has its own history; the last push wins.
    pushers[i].git = gateway->StartGit(alice, {"push", gateway->Url(pushers[i].app), "+main"}, dir);
    ASSERT_NE(pushers[i].git, nullptr);
  }
  int deployed = 0;
  std::string failures;
  std::map<std::string, std::set<std::string>> pushed;
  for (Pusher& pusher : pushers) {
    ExitStatus exit = pusher.git->Finish();
    const std::string& out = pusher.git->output();
    if (exit.success()) {
      ++deployed;
      EXPECT_NE(out.find(pusher.app + " released as v"), std::string::npos) << out;
      pushed[pusher.app].insert(pusher.commit);
    } else {
      failures += pusher.app + ": " + out + "\n";
      // A refusal must say why and what to do, in pushgate's words.
      EXPECT_TRUE(out.find(" !     ") != std::string::npos || out.find("try again") != std::string::npos)
          << "unclear failure:\n" << out;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << deployed << " of " << pushers.size() << " pushes deployed in " << seconds << " s\n";
  if (deployed != kApps * kPushesPerApp) {
    std::string problems;
    for (const std::string& line : LogLines(*gateway)) {
      if (line.find("\"level\":\"warn") != std::string::npos || line.find("\"level\":\"error") != std::string::npos) {
        problems += line + "\n";
      }
    }
    ADD_FAILURE() << deployed << " of " << kApps * kPushesPerApp << " pushes deployed\n"
                  << failures << "--- warnings and errors in pushgate.log\n" << problems;
  }

  for (int a = 0; a < kApps; ++a) {
    std::string app = "load-" + std::to_string(a);
    std::string head = gateway->RemoteRef(alice, app);
    EXPECT_EQ(pushed[app].count(head), 1u) << app << " ends at a commit nobody pushed: " << head;
    CapturedRun fsck = gateway->FsckRepo(app);
    EXPECT_TRUE(fsck.status.success()) << app << ": " << fsck.output;
  }
  int builds = 0;
  for (const auto& build : fake.Builds()) builds += build.app.rfind("load-", 0) == 0;
  EXPECT_EQ(builds, deployed);

  // Serialized per app: each build of an app starts after the previous
  // hook of that app has finished.
  std::map<std::string, std::vector<HookSpan>> spans = HookSpans(LogLines(*gateway));
  ASSERT_EQ(spans.size(), static_cast<size_t>(kApps));
  for (const auto& [app, list] : spans) {
    EXPECT_EQ(list.size(), static_cast<size_t>(kPushesPerApp)) << app;
    for (size_t i = 0; i < list.size(); ++i) {
      ASSERT_FALSE(list[i].end.empty()) << app << ": a hook that started at " << list[i].start << " never finished";
      if (i > 0) {
        EXPECT_GE(list[i].start, list[i - 1].end)
            << app << ": a build started at " << list[i].start << " while the hook before it ran until "
            << list[i - 1].end;
      }
    }
  }
  // No lock is stuck. The server side may still be exiting when a client has
  // its answer (slowly under the sanitizers), so wait for it as an operator
  // draining the gateway would.
  CapturedRun drained = gateway->Admin({"drain", "on", "--wait", "60s"});
  EXPECT_EQ(drained.status.code, 0) << drained.output;
  EXPECT_NE(drained.output.find("0 pushes in flight"), std::string::npos) << drained.output;

  ::kill(*sync_pid, SIGTERM);
  Result<std::optional<ExitStatus>> stopped = WaitForExitUntil(*sync_pid, std::chrono::seconds(20));
  ASSERT_TRUE(stopped.ok() && stopped->has_value()) << "the sync daemon did not stop on SIGTERM";
  EXPECT_TRUE((*stopped)->success()) << (*stopped)->Describe();
}

}  // namespace
}  // namespace pushgate::testing
