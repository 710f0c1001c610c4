// push_bench: the gateway's overhead on a push, small and large, and the
// hook's memory on a large one.
//
//   push_bench --workdir DIR --mode standalone|controller [--runs N]
//              [--large-mb MB] [--large-runs N]
//
// Starts a complete gateway (the e2e harness: installed binaries, a private
// sshd on loopback; standalone as it ships, with no build command, or
// controller mode against the fake controller with instant builds), a second
// one behind pushgate-sshd, and, on the first one's sshd, plain users whose
// keys run git directly against bare repositories. It then times `git push`
// of a small app, a fresh commit each push, --runs times through each of
// these, taking turns push by push (a figure is the median of a row's
// pushes):
//   1. plain: the key in an authorized_keys file (the baseline);
//   2. the same, the key from an AuthorizedKeysCommand (`cat` of that file),
//      which sshd runs twice per connection, as it runs pushgate-keys;
//   3. the same, to a repository with the object checks and a pre-receive
//      hook (/bin/true) that the gateway gives its repositories;
//   4. through pushgate behind OpenSSH;
//   5. through pushgate-sshd.
// 2 and 3 take the gateway's overhead apart: what OpenSSH and git do for any
// gateway built this way, and what pushgate's own programs add.
// Finally it pushes a repository of --large-mb MB of incompressible files,
// --large-runs times each, to a new plain repository and to a new app,
// alternating, and reads the hook's peak RSS from its log. Prints key=value
// lines.
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
// The plain user whose key sshd gets from an AuthorizedKeysCommand.
constexpr const char* kCommandKeysUser = "pushgate-bench-cmd";

bool Fail(const std::string& what) {
  std::fprintf(stderr, "push_bench: %s\n", what.c_str());
  return false;
}

std::string Home(const std::string& user) { return "/var/lib/" + user; }

// A bare repository `name` owned by `user`, made anew.
bool MakeBareRepo(const std::string& user, const std::string& name, std::string* repo) {
  *repo = Home(user) + "/" + name;
  RunCommand({"rm", "-rf", *repo});
  if (!RunCommand({"git", "init", "-q", "--bare", *repo}).status.success()) return Fail("git init " + *repo);
  if (!RunCommand({"chown", "-R", user + ":", *repo}).status.success()) return Fail("chown " + *repo);
  return true;
}

// A user for the baselines: an ordinary login whose pushes run
// git-receive-pack itself.
bool MakePlainUser(const std::string& user) {
  if (::getpwnam(user.c_str()) == nullptr) {
    RunCommand({"useradd", "--system", "--shell", "/bin/sh", "--home-dir", Home(user), "--create-home", user});
  }
  if (!RunCommand({"usermod", "-p", "*", user}).status.success()) return Fail("usermod " + user);
  return true;
}

// What a gateway's repository adds to a plain one in git itself: every
// object checked, and a pre-receive hook to run (one that does nothing).
bool AddGitChecks(const std::string& user, const std::string& repo) {
  std::string hooks = repo + "/checks-hooks";
  if (!RunCommand({"install", "-d", "-o", user, hooks}).status.success() ||
      !RunCommand({"ln", "-s", "/bin/true", hooks + "/pre-receive"}).status.success()) {
    return Fail("hooks for " + repo);
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"core.hooksPath", hooks}, {"receive.fsckObjects", "true"}, {"transfer.fsckObjects", "true"}}) {
    if (!RunCommand({"git", "--git-dir", repo, "config", key, value}).status.success()) return Fail("git config");
  }
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

template <typename T>
T Median(std::vector<T> values) {
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
  app.add_option("--runs", runs, "small pushes per row");
  app.add_option("--large-mb", large_mb, "size of the large push (0: skip)");
  app.add_option("--large-runs", large_runs, "large pushes through each");
  CLI11_PARSE(app, argc, argv);
  const bool standalone = mode == "standalone";

  FakeController fake;
  TestKey alice = MakeKey(workdir, "alice");
  fake.AddKey("alice", alice.public_line);
  fake.AddApp("web", {"alice"});
  for (int i = 0; i < large_runs; ++i) fake.AddApp("large-" + std::to_string(i), {"alice"});

  // The baseline users' keys file sits in a root-owned directory, as sshd's
  // StrictModes wants.
  std::string keys_dir = "/etc/pushgate-bench";
  if (pushgate::Status made = pushgate::MakeDirs(keys_dir, 0755); !made.ok()) {
    std::fprintf(stderr, "push_bench: %s\n", made.ToString().c_str());
    return 1;
  }
  std::string keys_file = keys_dir + "/plain_authorized_keys";
  WriteFile(keys_file, alice.public_line + "\n", 0644);
  std::string plain_repo, command_keys_repo, checked_repo;
  if (!MakePlainUser(kPlainUser) || !MakePlainUser(kCommandKeysUser) ||
      !MakeBareRepo(kPlainUser, "plain.git", &plain_repo) ||
      !MakeBareRepo(kCommandKeysUser, "plain.git", &command_keys_repo) ||
      !MakeBareRepo(kCommandKeysUser, "checked.git", &checked_repo) || !AddGitChecks(kCommandKeysUser, checked_repo)) {
    return 1;
  }

  GatewayOptions options;
  options.front_end = FrontEnd::kOpenSsh;
  if (!standalone) options.controller_url = fake.url();
  options.extra_sshd_config = std::string("AllowUsers ") + kPlainUser + " " + kCommandKeysUser + "\nMatch User " +
                              kPlainUser + "\n    AuthorizedKeysCommand none\n    AuthorizedKeysFile " + keys_file +
                              "\nMatch User " + kCommandKeysUser + "\n    AuthorizedKeysFile none\n" +
                              "    AuthorizedKeysCommand /usr/bin/cat " + keys_file +
                              "\n    AuthorizedKeysCommandUser nobody\nMatch all\n";
  std::unique_ptr<Gateway> gateway = Gateway::Start(options);
  GatewayOptions embedded_options;
  embedded_options.front_end = FrontEnd::kPushgateSshd;
  embedded_options.controller_url = options.controller_url;
  std::unique_ptr<Gateway> embedded = gateway ? Gateway::Start(embedded_options) : nullptr;
  if (!gateway || !embedded) {
    Fail("a gateway did not start");
    return 1;
  }

  if (standalone) {
    for (Gateway* g : {gateway.get(), embedded.get()}) {
      g->AdminOk({"user", "add", "alice"});
      g->AdminOk({"key", "add", "alice", alice.private_path + ".pub"});
      g->AdminOk({"app", "create", "web", "--member", "alice"});
    }
    for (int i = 0; i < large_runs; ++i) {
      gateway->AdminOk({"app", "create", "large-" + std::to_string(i), "--member", "alice"});
    }
  }

  std::string work = workdir + "/app";
  MakeApp(work);
  auto plain_url = [&](const std::string& user, const std::string& repo) {
    return "ssh://" + user + "@127.0.0.1:" + std::to_string(gateway->port()) + repo;
  };
  // In the order of the table at the top of this file.
  std::vector<std::string> urls = {plain_url(kPlainUser, plain_repo), plain_url(kCommandKeysUser, command_keys_repo),
                                   plain_url(kCommandKeysUser, checked_repo), gateway->Url("web"),
                                   embedded->Url("web")};
  auto env = gateway->GitClientEnv(alice);  // the same client and key for all
  for (const std::string& url : urls) {
    CapturedRun first = RunCommand({"git", "push", "-q", url, "HEAD:main"}, env, work);
    if (!first.status.success()) {
      Fail("first push to " + url + ":\n" + first.output + gateway->Logs() + embedded->Logs());
      return 1;
    }
  }

  // Each push pushes one new commit that changes one file.
  std::string prepare = workdir + "/next-commit";
  WriteFile(prepare, "#!/bin/sh\nset -e\ncd " + work + "\ndate +%s%N > stamp\ngit add stamp\ngit commit -qm bench\n",
            0755);
  auto timed_push = [&](const std::string& url, const std::string& dir) -> double {
    auto start = std::chrono::steady_clock::now();
    CapturedRun push = RunCommand({"git", "push", "-q", url, "HEAD:main"}, env, dir);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!push.status.success()) {
      Fail("push to " + url + ":\n" + push.output + gateway->Logs() + embedded->Logs());
      return -1;
    }
    return seconds;
  };
  // The rows take turns push by push, each run starting one row further on:
  // this machine drifts (write-back, a neighbour's load) over seconds, and
  // with each row's pushes back to back, as hyperfine times them, the rows'
  // medians moved by tens of ms against each other from one run to the
  // next. A row's figure is the median of its pushes.
  std::vector<std::vector<double>> push_ms(urls.size());
  for (int run = -1; run < runs; ++run) {  // run -1 warms every row up
    for (size_t turn = 0; turn < urls.size(); ++turn) {
      size_t row = (static_cast<size_t>(run + 1) + turn) % urls.size();
      if (!RunCommand({prepare}, env, work).status.success()) {
        Fail("cannot commit in " + work);
        return 1;
      }
      double seconds = timed_push(urls[row], work);
      if (seconds < 0) return 1;
      if (run >= 0) push_ms[row].push_back(seconds * 1000);
    }
  }
  // "12.3 45.6 ...": the medians of `samples`, one figure each.
  auto medians_line = [](const std::vector<std::vector<double>>& samples) {
    std::string line;
    for (const std::vector<double>& values : samples) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f", Median(values));
      line += (line.empty() ? "" : " ") + std::string(ms);
    }
    return line;
  };
  std::printf("push_medians_ms=%s\n", medians_line(push_ms).c_str());
  // What each row adds to the one before it (the last: pushgate-sshd to the
  // plain push), as the median of the differences between the two rows'
  // pushes of the same run: a difference of medians can even come out
  // negative when drift moves one row's median and not the other's.
  std::vector<std::vector<double>> differences(push_ms.size() - 1);
  for (size_t row = 1; row < push_ms.size(); ++row) {
    size_t before = row + 1 == push_ms.size() ? 0 : row - 1;
    for (size_t run = 0; run < push_ms[row].size(); ++run) {
      differences[row - 1].push_back(push_ms[row][run] - push_ms[before][run]);
    }
  }
  std::printf("push_paired_differences_ms=%s\n", medians_line(differences).c_str());
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
    std::vector<long> plain_ms, pushgate_ms, hook_ms, hook_rss_kb;
    for (int i = 0; i < large_runs; ++i) {
      std::string repo;
      if (!MakeBareRepo(kPlainUser, "large-" + std::to_string(i) + ".git", &repo)) return 1;
      double plain = timed_push(plain_url(kPlainUser, repo), big);
      double through = timed_push(gateway->Url("large-" + std::to_string(i)), big);
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
  RunCommand({"userdel", "-r", kCommandKeysUser});
  RunCommand({"rm", "-rf", keys_dir});
  return 0;
}
