// sync_bench: controller-mode benchmarks against the fake controller.
//
//   sync_bench --keys N --libexec DIR --workdir DIR --user USER [--runs R]
//
// Starts a fake controller with N ed25519 keys, then runs the real
// pushgate-sync (as USER, via setpriv) for a full sync of an empty cache and
// for incremental syncs of 100 changes, reporting wall time and the sync
// process's own peak RSS (wait4). Then it times pushgate-keys in controller
// mode with hyperfine: a fresh hit and a miss that runs a sync, each beside
// /bin/true run the same way. Prints key=value lines; hyperfine's CSVs go to
// the work directory.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <thread>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sync/sync_service.h"
#include "config/config.h"
#include "controller/client.h"
#include "sshkey/sshkey.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/synthetic_keys.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/process.h"

namespace {

using pushgate::testing::FakeController;
using pushgate::testing::SyntheticKeyLine;
using pushgate::testing::SyntheticKeyType;

struct Measured {
  double seconds = 0;
  long max_rss_kb = 0;
  long max_anon_kb = 0;  // the process's own memory, sampled
  long max_file_kb = 0;  // mapped files (the LMDB cache), sampled
  bool ok = false;
};

// Samples RssAnon and RssFile of every running pushgate-sync every 10 ms.
class RssSampler {
 public:
  RssSampler() : thread_([this] { Run(); }) {}
  ~RssSampler() {
    stop_ = true;
    thread_.join();
  }
  long max_anon_kb() const { return anon_; }
  long max_file_kb() const { return file_; }

 private:
  void Run() {
    while (!stop_) {
      pushgate::Result<std::vector<std::string>> pids = pushgate::ListDir("/proc");
      for (const std::string& pid : pids.ok() ? *pids : std::vector<std::string>()) {
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        pushgate::Result<std::string> comm = pushgate::ReadSmallFile("/proc/" + pid + "/comm");
        if (!comm.ok() || comm->rfind("pushgate-sync", 0) != 0) continue;
        pushgate::Result<std::string> status = pushgate::ReadSmallFile("/proc/" + pid + "/status");
        if (!status.ok()) continue;
        anon_ = std::max(anon_.load(), Field(*status, "RssAnon:"));
        file_ = std::max(file_.load(), Field(*status, "RssFile:"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  static long Field(const std::string& status, const std::string& name) {
    size_t at = status.find(name);
    return at == std::string::npos ? 0 : std::atol(status.c_str() + at + name.size());
  }
  std::atomic<bool> stop_{false};
  std::atomic<long> anon_{0}, file_{0};
  std::thread thread_;
};

// Runs argv as `user` (setpriv execs) under GNU time, which forks from its
// own small image: wait4's peak RSS of a child spawned from this process
// would include this process's memory (Linux carries the pre-exec peak over).
std::vector<std::string> g_wrap;  // --wrap: a profiler to run the full sync under

Measured RunAs(const std::string& workdir, const std::string& uid, const std::string& gid,
               const std::vector<std::string>& argv, bool wrap = false) {
  pushgate::SpawnSpec spec;
  spec.path = "/usr/bin/time";
  spec.argv = {"time", "-f", "%M", "-o", workdir + "/time.out"};
  if (wrap) spec.argv.insert(spec.argv.end(), g_wrap.begin(), g_wrap.end());
  for (const char* a : {"setpriv", "--clear-groups"}) spec.argv.push_back(a);
  spec.argv.push_back("--reuid=" + uid);
  spec.argv.push_back("--regid=" + gid);
  spec.argv.insert(spec.argv.end(), argv.begin(), argv.end());
  spec.env = {"PATH=/usr/bin:/bin"};
  auto start = std::chrono::steady_clock::now();
  pushgate::Result<pid_t> pid = pushgate::Spawn(spec);
  Measured m;
  if (!pid.ok()) return m;
  RssSampler sampler;
  pushgate::Result<pushgate::ExitStatus> status = pushgate::WaitForExit(*pid);
  m.max_anon_kb = sampler.max_anon_kb();
  m.max_file_kb = sampler.max_file_kb();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.ok = status.ok() && status->success();
  pushgate::Result<std::string> out = pushgate::ReadSmallFile(workdir + "/time.out");
  if (out.ok()) m.max_rss_kb = std::atol(out->c_str());
  return m;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("controller-mode benchmarks");
  long keys = 1000000;
  int runs = 10;
  std::string libexec, workdir, user = "nobody";
  app.add_option("--keys", keys);
  app.add_option("--runs", runs);
  app.add_option("--libexec", libexec)->required();
  app.add_option("--workdir", workdir)->required();
  app.add_option("--user", user);
  app.add_option("--wrap", g_wrap, "run the full sync under this command (e.g. perf record -g --)");
  CLI11_PARSE(app, argc, argv);

  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    std::fprintf(stderr, "no user %s\n", user.c_str());
    return 2;
  }
  FakeController fake;
  std::fprintf(stderr, "loading %ld keys into the fake controller\n", keys);
  std::vector<std::string> batch;
  for (long i = 0; i < keys; ++i) {
    batch.push_back(SyntheticKeyLine(SyntheticKeyType::kEd25519, static_cast<uint64_t>(i), "bench"));
    if (batch.size() == 100000 || i + 1 == keys) {
      fake.AddKeys("user" + std::to_string(i % 1000), batch);
      batch.clear();
    }
  }

  std::string data = workdir + "/data";
  std::string config = workdir + "/pushgate.toml";
  pushgate::UniqueFd token(::creat((workdir + "/token").c_str(), 0644));
  pushgate::UniqueFd config_file(::creat(config.c_str(), 0644));
  pushgate::Status ready = pushgate::MakeDirs(data, 0755);
  if (ready.ok() && ::chown(data.c_str(), pw->pw_uid, pw->pw_gid) != 0) ready = pushgate::Status::FromErrno(errno, "chown " + data);
  if (ready.ok()) ready = pushgate::WriteAll(token.get(), "test-token\n");
  if (ready.ok()) {
    ready = pushgate::WriteAll(config_file.get(),
                               "mode = \"controller\"\ndata_dir = \"" + data + "\"\ngit_user = \"" + user +
                                   "\"\n[controller]\nurl = \"" + fake.url() + "\"\ntoken_file = \"" + workdir +
                                   "/token\"\ntimeout = \"60s\"\n[build]\ndriver = \"pushgate\"\n[cache]\nnegative_ttl = \"1ms\"\nsync_deadline = \"10s\"\n"
                                   "[log]\ndestination = \"stderr\"\nlevel = \"warn\"\n");
  }
  if (!ready.ok()) {
    std::fprintf(stderr, "sync_bench: cannot set up %s: %s\n", workdir.c_str(), ready.ToString().c_str());
    return 1;
  }
  std::string sync = libexec + "/pushgate-sync";
  const std::string uid = std::to_string(pw->pw_uid), gid = std::to_string(pw->pw_gid);

  Measured full = RunAs(workdir, uid, gid, {sync, "--config", config, "--once"}, true);
  std::printf("full_sync_seconds=%.2f\nfull_sync_max_rss_mb=%ld\nfull_sync_max_anon_mb=%ld\n"
              "full_sync_max_file_mb=%ld\nfull_sync_ok=%d\n",
              full.seconds, full.max_rss_kb / 1024, full.max_anon_kb / 1024, full.max_file_kb / 1024, full.ok ? 1 : 0);
  // The cache's disk use after the full sync: the blocks written, not the
  // map's reserved size.
  struct stat cache_file;
  if (::stat((data + "/db/data.mdb").c_str(), &cache_file) == 0) {
    std::printf("full_sync_cache_file_mb=%lld\n", static_cast<long long>(cache_file.st_blocks) * 512 / (1 << 20));
  }

  std::vector<double> incremental_ms;
  long incremental_rss = 0;
  uint64_t next = static_cast<uint64_t>(keys) + 1;
  for (int r = 0; r < runs; ++r) {
    for (int c = 0; c < 50; ++c) fake.AddKey("late", SyntheticKeyLine(SyntheticKeyType::kEd25519, next++, "late"));
    std::map<std::string, std::string> live = fake.Keys();
    auto it = live.begin();
    for (int c = 0; c < 50; ++c, ++it) fake.RemoveKey(it->first);
    Measured m = RunAs(workdir, uid, gid, {sync, "--config", config, "--once"});
    if (!m.ok) std::fprintf(stderr, "incremental sync failed\n");
    incremental_ms.push_back(m.seconds * 1000);
    incremental_rss = std::max(incremental_rss, m.max_rss_kb);
  }
  std::printf("incremental_100_process_ms_median=%.1f\nincremental_max_rss_mb=%ld\n", Median(incremental_ms),
              incremental_rss / 1024);

  // The same, as the operation alone (lock, open, fetch, validate, apply,
  // commit) without process start-up: what the daemon pays each round.
  pushgate::Result<pushgate::Config> cfg = pushgate::LoadConfig(config);
  if (!cfg.ok() || !full.ok) {
    std::fprintf(stderr, "sync_bench: the sync cannot run: %s\n", cfg.ok() ? "see its log above" : cfg.status().ToString().c_str());
    return 1;
  }
  auto client = pushgate::ControllerClient::Create(cfg->controller);
  std::vector<double> in_process_ms;
  for (int r = 0; r < runs; ++r) {
    for (int c = 0; c < 50; ++c) fake.AddKey("late", SyntheticKeyLine(SyntheticKeyType::kEd25519, next++, "late"));
    std::map<std::string, std::string> live = fake.Keys();
    auto it = live.begin();
    for (int c = 0; c < 50; ++c, ++it) fake.RemoveKey(it->first);
    auto start = std::chrono::steady_clock::now();
    pushgate::Result<pushgate::SyncReport> report =
        pushgate::SyncOnce(*cfg, **client, pushgate::UnixNowMs, std::chrono::seconds(10));
    in_process_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!report.ok() || report->puts != 50 || report->deletes != 50) std::fprintf(stderr, "in-process sync wrong\n");
  }
  std::printf("incremental_100_in_process_ms_median=%.1f\n", Median(in_process_ms));

  // pushgate-keys: a known key (fresh: synced just now, refresh_after 30 s)
  // and unknown keys, each miss running pushgate-sync --key (negative_ttl 1ms).
  std::string hit_line = SyntheticKeyLine(SyntheticKeyType::kEd25519, 777, "bench");
  pushgate::Result<pushgate::PublicKey> hit = pushgate::ParsePublicKeyLine(hit_line);
  std::string miss_line = SyntheticKeyLine(SyntheticKeyType::kEd25519, 999999999, "bench");
  pushgate::Result<pushgate::PublicKey> miss = pushgate::ParsePublicKeyLine(miss_line);
  std::string keys_helper = libexec + "/pushgate-keys";
  auto as_user = [&](const std::string& cmd) {
    return "setpriv --reuid=" + uid + " --regid=" + gid + " --clear-groups " + cmd;
  };
  std::string hit_cmd = keys_helper + " --config " + config + " " + user + " " + hit->sha256_fingerprint + " " +
                        hit->type + " " + hit->blob;
  std::string miss_cmd = keys_helper + " --config " + config + " " + user + " " + miss->sha256_fingerprint + " " +
                         miss->type + " " + miss->blob;
  RunAs(workdir, uid, gid, {sync, "--config", config, "--once"});  // fresh for the hit runs
  pushgate::SpawnSpec hyperfine;
  hyperfine.path = "/usr/bin/hyperfine";
  hyperfine.argv = {"hyperfine", "-N", "--warmup", "20", "--runs", "300", "--export-csv", workdir + "/keys.csv",
                    as_user("/bin/true"), as_user(hit_cmd), as_user(miss_cmd)};
  hyperfine.env = {"PATH=/usr/bin:/bin", "HOME=/root"};
  pushgate::Result<pushgate::CapturedRun> hf = pushgate::RunAndCapture(hyperfine);
  if (!hf.ok() || !hf->status.success()) {
    std::fprintf(stderr, "hyperfine failed: %s\n", hf.ok() ? hf->output.c_str() : hf.status().message().c_str());
    return 1;
  }
  std::printf("keys_csv=%s/keys.csv\n", workdir.c_str());
  return full.ok ? 0 : 1;
}
