// push_bench: the gateway's overhead on a push, small and large, and the
// hook's memory on a large one.
//
//   push_bench --workdir DIR --mode standalone|controller [--runs N]
//              [--large-mb MB] [--large-runs N]
//
// Starts a complete gateway (the e2e harness: installed binaries, a private
// sshd on loopback; standalone as it ships, with no build command, or
// controller mode against the fake controller with instant builds) and, on
// the same sshd, a plain user whose key runs git directly against a bare
// repository. hyperfine then times `git push` of a small app with a fresh
// commit each run through both. Finally it pushes a repository of
// --large-mb MB of incompressible files, --large-runs times each, to a new
// plain repository and to a new app, alternating, and reads the hook's
// peak RSS from its log. Prints key=value lines; hyperfine's CSV goes to the
// work directory.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/e2e/gateway.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fs.h"

namespace {

using namespace pushgate::testing;
using pushgate::CapturedRun;

constexpr const char* kPlainUser = "pushgate-bench-plain";

bool Fail(const std::string& what) {
  std::fprintf(stderr, "push_bench: %s\n", what.c_str());
  return false;
}

// The baseline: a user whose authorized key runs git-receive-pack itself.
bool MakePlainUser(const std::string& keys_file, const TestKey& key, std::string* repo) {
  std::string home = std::string("/var/lib/") + kPlainUser;
  if (::getpwnam(kPlainUser) == nullptr) {
    RunCommand({"useradd", "--system", "--shell", "/bin/sh", "--home-dir", home, "--create-home", kPlainUser});
  }
  if (!RunCommand({"usermod", "-p", "*", kPlainUser}).status.success()) return Fail("usermod");
  *repo = home + "/plain.git";
  RunCommand({"rm", "-rf", *repo});
  if (!RunCommand({"git", "init", "-q", "--bare", *repo}).status.success()) return Fail("git init");
  if (!RunCommand({"chown", "-R", std::string(kPlainUser) + ":", *repo}).status.success()) return Fail("chown");
  WriteFile(keys_file, key.public_line + "\n", 0644);
  return true;
}

// A small app: a few source files.
void MakeApp(const std::string& dir) {
  std::string code;
  for (int i = 0; i < 200; ++i) code += "def handler_" + std::to_string(i) + "():\n    return 'hello'\n";
  MakeRepoWithCommit(dir, {{"Procfile", "web: python app.py\n"},
                           {"app.py", code},
                           {"requirements.txt", "flask==3.0.0\n"},
                           {"static/index.html", "<h1>hello</h1>\n"}});
}

// The values of `field` in the hook's "hook finished" log lines, in order.
std::vector<long> HookField(const std::string& log, const std::string& field) {
  std::vector<long> out;
  std::string key = "\"" + field + "\":\"";
  for (size_t at = log.find("\"hook finished\""); at != std::string::npos; at = log.find("\"hook finished\"", at + 1)) {
    size_t value = log.find(key, at);
    size_t end = log.find('\n', at);
    if (value != std::string::npos && value < end) out.push_back(std::stol(log.substr(value + key.size())));
  }
  return out;
}

long Median(std::vector<long> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate push benchmarks (needs root)");
  std::string workdir;
  std::string mode = "controller";
  int runs = 40;
  int large_mb = 128;
  int large_runs = 3;
  app.add_option("--workdir", workdir, "scratch directory")->required();
  app.add_option("--mode", mode, "the gateway's mode")->check(CLI::IsMember({"standalone", "controller"}));
  app.add_option("--runs", runs, "hyperfine runs per command");
  app.add_option("--large-mb", large_mb, "size of the large push (0: skip)");
  app.add_option("--large-runs", large_runs, "large pushes through each");
  CLI11_PARSE(app, argc, argv);
  const bool standalone = mode == "standalone";

  FakeController fake;
  TestKey alice = MakeKey(workdir, "alice");
  fake.AddKey("alice", alice.public_line);
  fake.AddApp("web", {"alice"});
  for (int i = 0; i < large_runs; ++i) fake.AddApp("large-" + std::to_string(i), {"alice"});

  // The baseline user's keys file sits in a root-owned directory, as sshd's
  // StrictModes wants.
  std::string keys_dir = "/etc/pushgate-bench";
  if (pushgate::Status made = pushgate::MakeDirs(keys_dir, 0755); !made.ok()) {
    std::fprintf(stderr, "push_bench: %s\n", made.ToString().c_str());
    return 1;
  }
  std::string keys_file = keys_dir + "/plain_authorized_keys";
  std::string plain_repo;
  if (!MakePlainUser(keys_file, alice, &plain_repo)) return 1;

  GatewayOptions options;
  if (!standalone) options.controller_url = fake.url();
  options.extra_sshd_config = std::string("AllowUsers ") + kPlainUser + "\nMatch User " + kPlainUser +
                              "\n    AuthorizedKeysCommand none\n    AuthorizedKeysFile " + keys_file + "\nMatch all\n";
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  if (!gateway) {
    Fail("the gateway did not start");
    return 1;
  }

  if (standalone) {
    gateway->AdminOk({"user", "add", "alice"});
    gateway->AdminOk({"key", "add", "alice", alice.private_path + ".pub"});
    gateway->AdminOk({"app", "create", "web", "--member", "alice"});
    for (int i = 0; i < large_runs; ++i) {
      gateway->AdminOk({"app", "create", "large-" + std::to_string(i), "--member", "alice"});
    }
  }

  std::string work = workdir + "/app";
  MakeApp(work);
  std::string pushgate_url = gateway->Url("web");
  std::string plain_url =
      "ssh://" + std::string(kPlainUser) + "@127.0.0.1:" + std::to_string(gateway->port()) + plain_repo;
  auto env = gateway->GitClientEnv(alice);
  for (const std::string& url : {pushgate_url, plain_url}) {
    CapturedRun first = RunCommand({"git", "push", "-q", url, "HEAD:main"}, env, work);
    if (!first.status.success()) {
      Fail("first push to " + url + ":\n" + first.output + gateway->Logs());
      return 1;
    }
  }

  // Each run pushes one new commit that changes one file.
  std::string prepare = workdir + "/next-commit";
  WriteFile(prepare, "#!/bin/sh\nset -e\ncd " + work + "\ndate +%s%N > stamp\ngit add stamp\ngit commit -qm bench\n",
            0755);
  std::string csv = workdir + "/push.csv";
  std::vector<std::string> hyperfine = {"hyperfine",
                                        "-N",
                                        "--warmup",
                                        "3",
                                        "--runs",
                                        std::to_string(runs),
                                        "--prepare",
                                        prepare,
                                        "--export-csv",
                                        csv,
                                        "git push -q " + plain_url + " HEAD:main",
                                        "git push -q " + pushgate_url + " HEAD:main"};
  CapturedRun timed = RunCommand(hyperfine, env, work);
  if (!timed.status.success()) {
    Fail("hyperfine:\n" + timed.output + gateway->Logs());
    return 1;
  }
  std::printf("push_medians_ms=%s\n", HyperfineMedians(csv).c_str());
  std::printf("builds=%zu\n", fake.Builds().size());
  std::string log = ReadFile(gateway->data_dir() + "/pushgate.log");
  WriteFile(workdir + "/pushgate.log", log);
  std::printf("hook_ms_median=%ld\nhook_peak_rss_mb_median=%ld\n", Median(HookField(log, "ms")),
              Median(HookField(log, "peak_rss_kb")) / 1024);

  if (large_mb > 0) {
    // Incompressible files of 16 MB: the archive is as large as the tree.
    std::string big = workdir + "/large";
    MakeRepoWithCommit(big, {{"README", "large app\n"}});
    std::mt19937_64 rng(7);
    std::string chunk(16 << 20, '\0');
    for (int i = 0; i < std::max(1, large_mb / 16); ++i) {
      for (size_t j = 0; j + 8 <= chunk.size(); j += 8) {
        uint64_t v = rng();
        std::memcpy(&chunk[j], &v, 8);
      }
      WriteFile(big + "/blob-" + std::to_string(i) + ".bin", chunk);
    }
    RunOk({"git", "add", "-A"}, GitEnv(), big);
    RunOk({"git", "-c", "core.compression=0", "commit", "-qm", "large"}, GitEnv(), big);
    // Each push goes to a new repository, alternating plain and pushgate so
    // that both meet the same noise.
    auto timed_push = [&](const std::string& url) -> double {
      auto start = std::chrono::steady_clock::now();
      CapturedRun push = RunCommand({"git", "push", "-q", url, "HEAD:main"}, env, big);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!push.status.success()) {
        Fail("large push to " + url + ":\n" + push.output + gateway->Logs());
        return -1;
      }
      return seconds;
    };
    std::vector<long> plain_ms, pushgate_ms, hook_ms, hook_rss_kb;
    for (int i = 0; i < large_runs; ++i) {
      std::string repo = std::string("/var/lib/") + kPlainUser + "/large-" + std::to_string(i) + ".git";
      RunCommand({"rm", "-rf", repo});
      if (!RunCommand({"git", "init", "-q", "--bare", repo}).status.success() ||
          !RunCommand({"chown", "-R", std::string(kPlainUser) + ":", repo}).status.success()) {
        Fail("cannot make " + repo);
        return 1;
      }
      double plain = timed_push("ssh://" + std::string(kPlainUser) + "@127.0.0.1:" +
                                std::to_string(gateway->port()) + repo);
      double through = timed_push(gateway->Url("large-" + std::to_string(i)));
      RunCommand({"rm", "-rf", repo});
      if (plain < 0 || through < 0) return 1;
      plain_ms.push_back(static_cast<long>(plain * 1000));
      pushgate_ms.push_back(static_cast<long>(through * 1000));
      log = ReadFile(gateway->data_dir() + "/pushgate.log");
      hook_ms.push_back(HookField(log, "ms").back());
      hook_rss_kb.push_back(HookField(log, "peak_rss_kb").back());
    }
    std::printf(
        "large_push_mb=%d\nlarge_push_runs=%d\nlarge_plain_seconds=%.1f\nlarge_push_seconds=%.1f\n"
        "large_push_hook_seconds=%.1f\nlarge_push_hook_peak_rss_mb=%ld\n",
        large_mb, large_runs, Median(plain_ms) / 1000.0, Median(pushgate_ms) / 1000.0, Median(hook_ms) / 1000.0,
        *std::max_element(hook_rss_kb.begin(), hook_rss_kb.end()) / 1024);
  }
  RunCommand({"userdel", "-r", kPlainUser});
  RunCommand({"rm", "-rf", keys_dir});
  return 0;
}
