// pushgate-hook: git's pre-receive hook, installed as hooks/pre-receive in
// pushgate's hooks directory. It takes everything from the environment that
// pushgate-shell prepared (PUSHGATE_*) and git (GIT_DIR, quarantine).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "config/config.h"
#include "gitrepo/gitrepo.h"
#include "metrics/counters.h"
#include "program/command_line.h"
#include "receive-hook/hook.h"
#include "util/fs.h"
#include "util/line_reader.h"
#include "util/log.h"
#include "util/names.h"
#include "util/process.h"

namespace {

std::atomic<bool> g_cancel{false};

void OnSignal(int) { g_cancel.store(true); }

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The ssh channel pushgate-shell passed down, if it is still a pipe or a socket.
int SessionFd() {
  std::string text = Env("PUSHGATE_CLIENT_FD");
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return -1;
  int fd = std::stoi(text);
  struct stat st;
  if (fd < 3 || ::fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return -1;
  // The build must not inherit the pusher's session.
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return -1;
  return fd;
}

int Fail(std::string_view log_message, const pushgate::Status& status, std::string_view pusher_message) {
  pushgate::log::Error(log_message, {{"error", status.message()}});
  std::string text = " !     ";
  text += pusher_message;
  text += "\n";
  (void)pushgate::WriteAll(STDERR_FILENO, text);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate's pre-receive hook; git runs it, with PUSHGATE_* set by pushgate-shell", "pushgate-hook");
  std::string config_path = Env("PUSHGATE_CONFIG");
  app.add_option("--config", config_path, "configuration file (default: $PUSHGATE_CONFIG)");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;

  // A vanished pusher shows up as EPIPE on write (and stops the build), not as
  // a silent death that would leave the build running.
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) ::sigaction(sig, &sa, nullptr);

  pushgate::log::Configure("pushgate-hook", {pushgate::log::Destination::Kind::kSyslog, ""},
                           pushgate::log::Level::kInfo);
  pushgate::HookContext context;
  context.app = Env("PUSHGATE_APP");
  context.user = Env("PUSHGATE_USER");
  context.fingerprint = Env("PUSHGATE_KEY");
  context.request_id = Env("PUSHGATE_REQUEST_ID");
  context.cancel = &g_cancel;
  context.session_fd = SessionFd();
  if (!pushgate::IsValidAppName(context.app) || !pushgate::IsValidUserName(context.user)) {
    return Fail("started without pushgate-shell's environment",
                pushgate::Status::InvalidArgument("PUSHGATE_APP/PUSHGATE_USER missing or invalid"),
                "this repository only accepts pushes through pushgate");
  }
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) return Fail("cannot load config", config.status(), "pushgate is misconfigured; tell the platform operator");
  pushgate::log::Configure("pushgate-hook", config->log.destination, config->log.level);
  pushgate::log::SetContext("request_id", context.request_id);
  pushgate::log::SetContext("app", context.app);
  pushgate::log::SetContext("user", context.user);
  context.config = &*config;

  pushgate::Result<std::string> self_dir = pushgate::ExecutableDir();
  if (!self_dir.ok()) return Fail("cannot locate the installation", self_dir.status(), "pushgate is misconfigured; tell the platform operator");
  context.libexec_dir = *self_dir;

  pushgate::LineReader lines(STDIN_FILENO);
  pushgate::Result<std::vector<pushgate::RefUpdate>> updates = pushgate::ReadRefUpdates(lines);
  if (!updates.ok()) return Fail("cannot read ref updates", updates.status(), "pushgate could not read the pushed refs");
  pushgate::Result<pushgate::GitRepo> repo = pushgate::GitRepo::OpenFromEnvironment();
  if (!repo.ok()) return Fail("cannot open the repository", repo.status(), "pushgate could not open the repository; tell the platform operator");
  repo->set_git_path(config->git_path);
  pushgate::Result<std::unique_ptr<pushgate::Backend>> backend = pushgate::OpenBackend(*config, context.request_id);
  if (!backend.ok()) return Fail("cannot open backend", backend.status(), "pushgate is misconfigured; tell the platform operator");
  context.backend = backend->get();
  auto start = std::chrono::steady_clock::now();
  int exit_code = pushgate::RunPreReceive(context, *repo, *updates);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  pushgate::metrics::Observe(config->data_dir, pushgate::metrics::Histogram::kPushSeconds, elapsed.count());
  pushgate::log::Info("hook finished", {{"exit", std::to_string(exit_code)},
                                        {"ms", std::to_string(ms)},
                                        {"peak_rss_kb", std::to_string(pushgate::PeakRssKb())}});
  return exit_code;
}
