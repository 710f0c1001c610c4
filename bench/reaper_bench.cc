// reaper_bench: one pushgate-reaper run over many repositories against the
// fake controller, with its batch app lookup and with the per-app fallback.
//
//   reaper_bench --workdir DIR [--repos N] [--fallback-repos M] [--deleted-percent P]
//
// Creates N repository directories (a HEAD and one branch ref each, last
// pushed an hour ago), of which P% belong to apps the controller does not
// know (with their lock files, as pushes leave them), writes them to disk,
// and times Reap() in process with the batch lookup; then the same with M
// repositories (default: N, at most 100,000: one request per app) against a
// controller without it. Prints key=value lines.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "reaper/reaper.h"
#include "tests/fake_controller/fake_controller.h"
#include "tests/testing/testing.h"
#include "util/fs.h"
#include "util/process.h"

namespace {

using pushgate::testing::FakeController;

std::string AppName(int i) { return "app-" + std::to_string(i); }

bool Deleted(int i, int deleted_every) { return deleted_every > 0 && i % deleted_every == 0; }

// The repositories, and the lock files of the deleted apps' last pushes: a
// push leaves its app's lock file behind, and the reaper takes it. (Kept
// apps have one too, but the run never opens theirs.)
void MakeRepos(const pushgate::Config& config, int repos, int deleted_every) {
  struct timespec old[2];
  ::clock_gettime(CLOCK_REALTIME, &old[0]);
  old[0].tv_sec -= 3600;
  old[1] = old[0];
  (void)pushgate::MakeDirs(config.dirs().Locks(), 0750);
  for (int i = 0; i < repos; ++i) {
    std::string repo = config.dirs().Repo(AppName(i));
    (void)pushgate::MakeDirs(repo + "/refs/heads", 0755);
    pushgate::testing::WriteFile(repo + "/HEAD", "ref: refs/heads/main\n");
    pushgate::testing::WriteFile(repo + "/refs/heads/main", std::string(40, 'a') + "\n");
    for (const std::string& p : {repo + "/refs/heads/main", repo + "/refs/heads", repo}) {
      ::utimensat(AT_FDCWD, p.c_str(), old, 0);
    }
    if (Deleted(i, deleted_every)) {
      std::string lock = config.dirs().AppLock(AppName(i));
      pushgate::testing::WriteFile(lock, "", 0600);
      ::utimensat(AT_FDCWD, lock.c_str(), old, 0);
    }
  }
}

void RunAndReport(const std::string& name, const pushgate::Config& config, FakeController& fake, int count) {
  std::string token = config.data_dir + "/../token";
  pushgate::Config with_controller = config;
  with_controller.mode = pushgate::Mode::kController;
  with_controller.controller.url = fake.url();
  with_controller.controller.token_file = token;
  pushgate::Result<std::unique_ptr<pushgate::Backend>> backend = pushgate::OpenBackend(with_controller);
  if (!backend.ok()) {
    std::fprintf(stderr, "reaper_bench: %s\n", backend.status().ToString().c_str());
    std::exit(1);
  }
  // Where a run's time goes: listing the repositories, and asking the
  // controller about every app, each timed alone before the run.
  auto start = std::chrono::steady_clock::now();
  pushgate::Result<std::vector<std::string>> listed = pushgate::ListDir(config.dirs().Repos());
  std::vector<std::string> apps;
  for (int i = 0; i < count; ++i) apps.push_back(AppName(i));
  std::sort(apps.begin(), apps.end());
  auto listed_at = std::chrono::steady_clock::now();
  std::vector<pushgate::Backend::AppState> states = (*backend)->CheckApps(apps);
  auto asked_at = std::chrono::steady_clock::now();
  int lookup_requests = fake.Requests("/v2/hooks/");
  long gone = std::count(states.begin(), states.end(), pushgate::Backend::AppState::kGone);
  std::printf("%s_list_seconds=%.2f\n%s_listed=%zu\n%s_lookup_seconds=%.2f\n%s_lookup_requests=%d\n"
              "%s_lookup_gone=%ld\n",
              name.c_str(), std::chrono::duration<double>(listed_at - start).count(), name.c_str(),
              listed.ok() ? listed->size() : 0, name.c_str(), std::chrono::duration<double>(asked_at - listed_at).count(),
              name.c_str(), lookup_requests, name.c_str(), gone);

  pushgate::ReapSummary summary = pushgate::Reap(with_controller, **backend, {});
  std::printf("%s_seconds=%.2f\n%s_removed=%d\n%s_scanned=%d\n%s_requests=%d\n%s_summary=%s\n", name.c_str(),
              summary.seconds, name.c_str(), summary.removed, name.c_str(), summary.scanned, name.c_str(),
              fake.Requests("/v2/hooks/") - lookup_requests, name.c_str(), summary.ToJson().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate-reaper benchmark");
  std::string workdir;
  int repos = 100000;
  int fallback_repos = -1;
  int deleted_percent = 1;
  app.add_option("--workdir", workdir, "scratch directory")->required();
  app.add_option("--repos", repos, "repository directories");
  app.add_option("--fallback-repos", fallback_repos, "repository directories for the per-app run");
  app.add_option("--deleted-percent", deleted_percent, "percent of them whose app is deleted");
  CLI11_PARSE(app, argc, argv);

  fallback_repos = std::min(fallback_repos < 0 ? repos : fallback_repos, repos);
  pushgate::testing::WriteFile(workdir + "/token", "test-token\n", 0600);
  int deleted_every = deleted_percent > 0 ? 100 / deleted_percent : 0;
  std::printf("repos=%d\nfallback_repos=%d\ndeleted_percent=%d\n", repos, fallback_repos, deleted_percent);
  for (bool batch : {true, false}) {
    std::string name = batch ? "batch" : "per_app";
    int count = batch ? repos : fallback_repos;
    if (count == 0) continue;
    pushgate::Config config;
    config.data_dir = workdir + "/" + name;
    config.reaper.max_per_run = count;  // the run is meant to remove them all
    config.reaper.max_fraction = 1.0;
    auto create_start = std::chrono::steady_clock::now();
    MakeRepos(config, count, deleted_every);
    ::sync();  // the run is timed, not the write-back of the directories just made
    std::printf("%s_create_seconds=%.1f\n", name.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - create_start).count());
    FakeController::Options options;
    options.app_lookup = batch;
    FakeController fake(options);
    for (int i = 0; i < count; ++i) {
      if (!Deleted(i, deleted_every)) fake.AddApp(AppName(i), {});
    }
    RunAndReport(name, config, fake, count);
  }
  std::printf("peak_rss_mb=%ld\n", pushgate::PeakRssKb() / 1024);
  return 0;
}
