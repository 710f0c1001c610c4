#include "receive-hook/hook_program.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "backend/backend.h"
#include "gitrepo/gitrepo.h"
#include "metrics/counters.h"
#include "program/startup.h"
#include "receive-hook/hook.h"
#include "receive-hook/push_options.h"
#include "util/line_reader.h"
#include "util/log.h"
#include "util/names.h"
#include "util/process.h"

namespace pushgate {
namespace {

std::atomic<bool> g_cancel{false};

// The ssh channel pushgate-shell passed down, if it is still a pipe or a socket.
int SessionFd() {
  std::string text = EnvOrEmpty("PUSHGATE_CLIENT_FD");
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return -1;
  int fd = std::stoi(text);
  struct stat st;
  if (fd < 3 || ::fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return -1;
  // The build must not inherit the pusher's session.
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return -1;
  return fd;
}

int Fail(std::string_view log_message, const Status& status, std::string_view pusher_message) {
  log::Error(log_message, {{"error", status.message()}});
  PrintError(" !     " + std::string(pusher_message));
  return 1;
}

constexpr std::string_view kMisconfigured = "pushgate is misconfigured; tell the platform operator";

}  // namespace

int RunHookProgram(const std::string& config_path) {
  // A vanished pusher shows up as EPIPE on write (and stops the build), not
  // as a silent death that would leave the build running.
  StopOnSignals(&g_cancel);
  log::Configure("pushgate-hook", {log::Destination::Kind::kSyslog, ""}, log::Level::kInfo);
  HookContext context;
  context.app = EnvOrEmpty("PUSHGATE_APP");
  context.key_owner = EnvOrEmpty("PUSHGATE_KEY_OWNER");
  context.user = PusherOf(context.key_owner);
  context.fingerprint = EnvOrEmpty("PUSHGATE_KEY");
  context.ca_fingerprint = EnvOrEmpty("PUSHGATE_CA");
  context.request_id = EnvOrEmpty("PUSHGATE_REQUEST_ID");
  // git-receive-pack's own; a count beyond any sane push is checked (and
  // refused) by CheckPushOptions, so reading stops there.
  int option_count = std::atoi(EnvOrEmpty("GIT_PUSH_OPTION_COUNT").c_str());
  for (int i = 0; i < option_count && i <= static_cast<int>(kMaxPushOptions); ++i) {
    context.push_options.push_back(EnvOrEmpty(("GIT_PUSH_OPTION_" + std::to_string(i)).c_str()));
  }
  context.cancel = &g_cancel;
  context.session_fd = SessionFd();
  if (!IsValidAppName(context.app) || !IsValidKeyOwner(context.key_owner)) {
    return Fail("started without pushgate-shell's environment",
                Status::InvalidArgument("PUSHGATE_APP/PUSHGATE_KEY_OWNER missing or invalid"),
                "this repository only accepts pushes through pushgate");
  }
  Result<Started> started = StartProgram({"pushgate-hook", config_path, "", false});
  if (!started.ok()) return Fail("cannot start", started.status(), kMisconfigured);
  const Config& config = started->config;
  log::SetContext("request_id", context.request_id);
  log::SetContext("app", context.app);
  log::SetContext("user", context.user);
  // Set by the session from a value it formatted; bounded all the same.
  if (std::optional<std::string> client = EnvIfSet("PUSHGATE_CLIENT")) {
    log::SetContext("client", Printable(*client, 100));
  }
  context.config = &config;
  context.libexec_dir = started->libexec_dir;

  LineReader lines(STDIN_FILENO);
  Result<std::vector<RefUpdate>> updates = ReadRefUpdates(lines);
  if (!updates.ok()) return Fail("cannot read ref updates", updates.status(), "pushgate could not read the pushed refs");
  Result<GitRepo> repo = GitRepo::OpenFromEnvironment();
  if (!repo.ok()) {
    return Fail("cannot open the repository", repo.status(),
                "pushgate could not open the repository; tell the platform operator");
  }
  repo->set_git_path(config.git_path);
  Result<std::unique_ptr<Backend>> backend = OpenBackend(config, context.request_id);
  if (!backend.ok()) return Fail("cannot open backend", backend.status(), kMisconfigured);
  context.backend = backend->get();

  auto start = std::chrono::steady_clock::now();
  int exit_code = RunPreReceive(context, *repo, *updates);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  metrics::Observe(config.data_dir, metrics::Histogram::kPushSeconds, elapsed.count());
  log::Info("hook finished",
            {{"exit", std::to_string(exit_code)},
             {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count())},
             {"peak_rss_kb", std::to_string(PeakRssKb())}});
  return exit_code;
}

}  // namespace pushgate
