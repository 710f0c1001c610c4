// The two SSH front ends side by side (docs/performance.md, "Front ends"):
// one gateway behind OpenSSH + pushgate-keys, one behind pushgate-sshd,
// both standalone, same machine, same client, measured in one hyperfine run
// so the ratio is what counts.
//
//   front_end_bench --workdir DIR [--runs N]
//
// Prints, OpenSSH first:
//   round_trip_medians_ms   `ssh git@host`: connect, authenticate, get the greeting
//   command_medians_ms      per front end: an unknown command (refused
//                           before any question: the baseline), the
//                           greeting, info --json, releases web, logs web
//   push_medians_ms         a one-file commit, built and deployed
//   connections_per_second  --burst round trips, 8 at a time, at saturation
//   idle_connection_kb      server memory (PSS) per authenticated idle
//                           connection (`ssh -N`), over 20 of them
// Needs root.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <string>
#include <vector>

#include "tests/e2e/gateway.h"
#include "tests/testing/testing.h"
#include "util/fs.h"

using namespace pushgate;
using namespace pushgate::testing;

namespace {

// Proportional set size of the processes serving `gateway`, in kB.
long ServerPssKb(const Gateway& gateway) {
  long total = 0;
  for (const Gateway::ServerProcess& p : gateway.ServerProcesses()) {
    Result<std::string> rollup = ReadSmallFile("/proc/" + std::to_string(p.pid) + "/smaps_rollup");
    if (!rollup.ok()) continue;  // ended meanwhile
    size_t at = rollup->find("\nPss:");
    if (at != std::string::npos) total += std::atol(rollup->c_str() + at + 5);
  }
  return total;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "front_end_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate front-end benchmark: OpenSSH + pushgate-keys vs pushgate-sshd (needs root)");
  std::string workdir;
  int runs = 30;
  int burst = 100;
  app.add_option("--workdir", workdir, "scratch directory")->required();
  app.add_option("--runs", runs, "hyperfine runs per command");
  app.add_option("--burst", burst, "round trips per saturation run");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::unique_ptr<Gateway>> gateways;
  std::vector<TestKey> keys;
  for (FrontEnd front_end : {FrontEnd::kOpenSsh, FrontEnd::kPushgateSshd}) {
    GatewayOptions options;
    options.front_end = front_end;
    // One user's round trips at saturation are far above a pusher's fair
    // share (push.max_requests_per_minute): the bench measures the front ends.
    options.extra_config = "[push]\nmax_requests_per_minute = 0\n";
    std::unique_ptr<Gateway> gateway = Gateway::Start(options);
    if (gateway == nullptr) return Fail("a gateway did not start");
    std::string key_dir = workdir + "/keys-" + std::to_string(gateways.size());
    if (!MakeDirs(key_dir, 0700).ok()) return Fail("mkdir " + key_dir);
    keys.push_back(gateway->AddUserWithKey("alice", key_dir));
    gateway->AdminOk({"app", "create", "web", "--member", "alice"});
    gateways.push_back(std::move(gateway));
  }

  std::string work = workdir + "/app";
  MakeRepoWithCommit(work, {{"index.html", "hello\n"}});
  std::vector<std::string> round_trips, pushes;
  for (size_t i = 0; i < gateways.size(); ++i) {
    std::string ssh;
    for (const std::string& arg : gateways[i]->SshArgv(keys[i])) ssh += arg + " ";
    round_trips.push_back(ssh + "127.0.0.1");
    // GIT_SSH_COMMAND is per gateway (its own key): spelled out with env.
    auto env = gateways[i]->GitClientEnv(keys[i]);
    pushes.push_back("env HOME=" + env["HOME"] + " GIT_SSH_COMMAND='" + env["GIT_SSH_COMMAND"] + "' git push -q " +
                     gateways[i]->Url("web") + " HEAD:main");
    CapturedRun first = RunCommand({"sh", "-c", pushes.back()}, GitEnv(), work);
    if (!first.status.success()) return Fail("first push:\n" + first.output + gateways[i]->Logs());
  }
  std::string prepare = workdir + "/next-commit";
  WriteFile(prepare, "#!/bin/sh\nset -e\ncd " + work + "\ndate +%s%N > stamp\ngit add stamp\ngit commit -qm bench\n",
            0755);
  std::string csv = workdir + "/round-trip.csv";
  CapturedRun timed = RunCommand({"hyperfine", "-N", "-i", "--warmup", "3", "--runs", std::to_string(runs),
                                  "--export-csv", csv, round_trips[0], round_trips[1]},
                                 gateways[0]->SshEnv(), work);
  if (!timed.status.success()) return Fail("hyperfine:\n" + timed.output);
  std::printf("round_trip_medians_ms=%s\n", HyperfineMedians(csv).c_str());
  // The pusher commands, each against the refusal of an unknown command in
  // the same run: what answering costs beyond connecting.
  std::vector<std::string> commands = {"hyperfine", "-N", "-i", "--warmup", "3", "--runs", std::to_string(runs),
                                       "--export-csv", workdir + "/commands.csv"};
  for (const std::string& round_trip : round_trips) {
    for (const char* command : {" nonsense", "", " info --json", " releases web", " logs web"}) {
      commands.push_back(round_trip + command);
    }
  }
  timed = RunCommand(commands, gateways[0]->SshEnv(), work);
  if (!timed.status.success()) return Fail("hyperfine:\n" + timed.output);
  std::printf("command_medians_ms=%s\n", HyperfineMedians(workdir + "/commands.csv").c_str());
  csv = workdir + "/push.csv";
  timed = RunCommand({"hyperfine", "--warmup", "3", "--runs", std::to_string(runs), "--prepare", prepare,
                      "--export-csv", csv, pushes[0], pushes[1]},
                     GitEnv(), work);
  if (!timed.status.success()) return Fail("hyperfine:\n" + timed.output);
  std::printf("push_medians_ms=%s\n", HyperfineMedians(csv).c_str());

  // Saturation: `burst` round trips, 8 clients at a time.
  std::string rates;
  for (const std::string& round_trip : round_trips) {
    std::string script = workdir + "/burst.sh";
    WriteFile(script, "#!/bin/sh\nseq " + std::to_string(burst) + " | xargs -P 8 -I{} " + round_trip +
                          " >/dev/null 2>&1\nexit 0\n", 0755);
    csv = workdir + "/burst.csv";
    timed = RunCommand({"hyperfine", "-N", "--warmup", "1", "--runs", "5", "--export-csv", csv, script},
                       gateways[0]->SshEnv(), work);
    if (!timed.status.success()) return Fail("hyperfine:\n" + timed.output);
    double median_ms = std::stod(HyperfineMedians(csv));
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.0f", burst / (median_ms / 1000));
    rates += (rates.empty() ? "" : " ") + std::string(rate);
  }
  std::printf("connections_per_second=%s\n", rates.c_str());

  // Idle authenticated connections: what each costs the server.
  std::string memory;
  constexpr int kIdle = 20;
  for (size_t i = 0; i < gateways.size(); ++i) {
    long before = ServerPssKb(*gateways[i]);
    std::vector<pid_t> idle;
    for (int c = 0; c < kIdle; ++c) {
      std::vector<std::string> argv = gateways[i]->SshArgv(keys[i]);
      argv.insert(argv.end(), {"-N", "127.0.0.1"});
      SpawnSpec spec{"/usr/bin/ssh", argv, {"PATH=/usr/bin:/bin", "HOME=" + gateways[i]->SshEnv()["HOME"]},
                     -1, -1, -1, true, ""};
      Result<pid_t> pid = Spawn(spec);
      if (pid.ok()) idle.push_back(*pid);
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));  // all authenticated and idle
    long after = ServerPssKb(*gateways[i]);
    for (pid_t pid : idle) {
      ::kill(pid, SIGTERM);
      (void)WaitForExit(pid);
    }
    memory += (memory.empty() ? "" : " ") + std::to_string((after - before) / kIdle);
  }
  std::printf("idle_connection_kb=%s\n", memory.c_str());
  return 0;
}
