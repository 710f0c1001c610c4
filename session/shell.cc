#include "session/shell.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>

#include "config/drain.h"
#include "gitrepo/gitrepo.h"
#include "session/session_relay.h"
#include "session/ssh_command.h"
#include "util/fs.h"
#include "util/log.h"

namespace pushgate {
namespace {

ShellDecision Refuse(std::string message, int exit_code = 1) {
  ShellDecision d;
  d.message = std::move(message);
  d.exit_code = exit_code;
  return d;
}

ShellDecision Unavailable(const Status& cause) {
  log::Error("push failed on the gateway", {{"error", cause.message()}});
  return Refuse("pushgate could not prepare the repository (" + std::string(CodeName(cause.code())) +
                "); try again shortly, and tell the platform operator if it persists");
}

// git's own configuration for the session. Passed through the environment
// (GIT_CONFIG_COUNT) as well as written at creation, so nothing in the
// repository's config can swap the hooks or turn object checks off.
std::vector<std::pair<std::string, std::string>> RepoSettings(const std::string& hooks_dir) {
  return {
      {"core.hooksPath", hooks_dir},
      {"receive.fsckObjects", "true"},
      {"transfer.fsckObjects", "true"},
      {"receive.advertisePushOptions", "false"},
      {"uploadpack.allowAnySHA1InWant", "false"},
      // receive-pack's automatic gc runs in the foreground, under the app
      // lock like every other write, so whatever the next lock holder finds
      // locked in the repository was left by a killed process.
      {"gc.autoDetach", "false"},
  };
}

// Only for the session's git, never written to the repository: they
// follow the configuration.
std::vector<std::pair<std::string, std::string>> SessionSettings(const Config& config, GitService service) {
  std::vector<std::pair<std::string, std::string>> settings;
  if (service == GitService::kReceivePack) {
    // Both unpack-objects (pushes of fewer than 100 objects) and index-pack
    // stop reading beyond it. (Sending every push through index-pack, for
    // its message naming the size, left one pack per push: pushes slowed
    // down as packs piled up, 40% over 30 pushes, until gc repacked them.)
    settings.emplace_back("receive.maxInputSize", std::to_string(config.push.max_pack_size));
  }
  return settings;
}

// True once the client's side of the session has closed: stdout's reader is
// gone (POLLERR on a pipe, POLLHUP on a socket) or stdin was hung up.
bool ClientGone(const ShellRequest& request) {
  struct pollfd pfds[2] = {{request.session_fd, 0, 0}, {request.session_in_fd, 0, 0}};
  if (::poll(pfds, 2, 0) <= 0) return false;
  return (pfds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 || (pfds[1].revents & (POLLHUP | POLLNVAL)) != 0;
}

Status EnsureDataDirs(const Config& config) {
  for (const std::string& dir : {config.data_dir, config.ReposDir(), config.LocksDir(), config.TmpDir()}) {
    PG_RETURN_IF_ERROR(MakeDirs(dir, 0750));
  }
  return Status::OK();
}

}  // namespace

bool IsValidGitProtocol(std::string_view value) {
  if (value.empty() || value.size() > 64) return false;
  while (!value.empty()) {
    size_t colon = value.find(':');
    std::string_view entry = value.substr(0, colon);
    if (entry != "version=0" && entry != "version=1" && entry != "version=2") return false;
    if (colon == std::string_view::npos) break;
    value.remove_prefix(colon + 1);
    if (value.empty()) return false;
  }
  return true;
}

ShellDecision DecideShell(const Config& config, Backend& backend, const ShellRequest& request,
                          const std::function<void(std::string_view)>& notify) {
  ParsedSshCommand parsed = ParseSshCommand(request.original_command.value_or(""));
  if (!parsed.ok) {
    if (parsed.error.kind == SshCommandError::Kind::kInvalidAppName) {
      log::Info("refused: invalid app name", {{"repository", parsed.error.repository}});
      return Refuse("'" + parsed.error.repository +
                    "' is not a valid app name: use lowercase letters, digits and '-', "
                    "e.g. git push ssh://" + config.git_user + "@HOST/myapp.git main");
    }
    log::Info("refused: not a git command");
    return Refuse("Hi " + request.user + "! pushgate does not provide shell access.");
  }
  const GitCommand& command = parsed.command;
  log::SetContext("app", command.app);
  log::SetContext("service", GitServiceName(command.service));

  // Phase timings for the log: what a slow push spent its time on.
  auto phase_start = std::chrono::steady_clock::now();
  auto phase_ms = [&phase_start] {
    auto now = std::chrono::steady_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - phase_start).count();
    phase_start = now;
    return std::to_string(ms);
  };
  Backend::Access access =
      command.service == GitService::kReceivePack ? Backend::Access::kWrite : Backend::Access::kRead;
  Status authorized = backend.Authorize(command.app, request.user, request.fingerprint, access);
  std::string authorize_ms = phase_ms();
  if (!authorized.ok()) {
    switch (authorized.code()) {
      case Status::Code::kNotFound:
      case Status::Code::kPermissionDenied:
        log::Info("refused", {{"reason", authorized.message()}});
        return Refuse(AccessRefusal(command.app, authorized.IsNotFound(), config.push.distinguish_missing_apps));
      case Status::Code::kUnavailable:
      case Status::Code::kTimeout:
        log::Warn("authorization unavailable", {{"error", authorized.message()}});
        return Refuse(authorized.message());
      case Status::Code::kUnimplemented:
        log::Error("pushgate and the controller do not fit together", {{"error", authorized.message()}});
        return Refuse("pushgate is misconfigured on the server; tell the platform operator");
      default: return Unavailable(authorized);
    }
  }

  Status dirs = EnsureDataDirs(config);
  if (!dirs.ok()) return Unavailable(dirs);

  ShellDecision decision;
  std::string lock_ms = "0";
  if (command.service == GitService::kReceivePack) {
    Result<bool> draining = IsDraining(config);
    if (!draining.ok()) return Unavailable(draining.status());
    if (*draining) {
      log::Info("refused: draining");
      return Refuse(DrainingMessage(command.app));
    }
    bool waited = false;
    bool client_gone = false;
    Result<FileLock> lock = FileLock::Acquire(
        config.AppLockPath(command.app), config.push.lock_timeout,
        [&] {
          waited = true;
          notify("waiting for the deploy in progress...");
        },
        // A waiter whose client has gone has no push left to run.
        [&] { return client_gone = ClientGone(request); });
    if (!lock.ok()) {
      if (lock.status().IsTimeout()) {
        return Refuse("another deploy of " + command.app + " is still running after " +
                      FormatDuration(config.push.lock_timeout) + "; try again when it has finished");
      }
      if (client_gone) {
        log::Info("the client left while waiting for the app lock", {{"ms", phase_ms()}});
        return Refuse("the connection closed while waiting for the deploy in progress");
      }
      return Unavailable(lock.status());
    }
    lock_ms = phase_ms();
    if (waited) log::Info("waited for the app lock", {{"ms", lock_ms}});
    decision.lock.emplace(std::move(lock).value());
    // Not close-on-exec: it must reach the hook through git-receive-pack.
    decision.session_fd.Reset(::fcntl(request.session_fd, F_DUPFD, 3));
    if (!decision.session_fd.valid()) return Unavailable(Status::FromErrno(errno, "dup the session channel"));
  }

  std::string hooks_dir = request.libexec_dir + "/hooks";
  std::string repo = config.RepoPath(command.app);
  Status created = CreateBareRepository(repo, RepoSettings(hooks_dir));
  if (!created.ok() && !created.IsAlreadyExists()) return Unavailable(created);
  if (created.ok()) log::Info("created repository", {{"path", repo}});
  // Anything that can write to data_dir (a build runs as git_user) could put
  // a symlink there and alias this app to another app's repository, or to
  // any directory; pushgate serves only the directories it created.
  struct stat st;
  if (::lstat(repo.c_str(), &st) != 0) return Unavailable(Status::FromErrno(errno, "lstat " + repo));
  if (!S_ISDIR(st.st_mode)) {
    return Unavailable(Status::IOError(repo + " is not a directory (a symlink?); refusing to serve it"));
  }
  if (decision.lock) {
    Result<std::vector<std::string>> removed = RemoveLeftoversOfKilledGit(repo);
    if (!removed.ok()) return Unavailable(removed.status());
    for (const std::string& path : *removed) {
      log::Warn("removed what a killed push left in the repository", {{"path", repo + "/" + path}});
    }
  }

  SpawnSpec& git = decision.git;
  git.path = config.git_path;
  if (command.service == GitService::kReceivePack) {
    git.argv = {"git", "receive-pack", repo};
  } else {
    // --strict: serve exactly this directory, never <dir>/.git.
    git.argv = {"git", "upload-pack", "--strict", repo};
  }
  // The whole environment of git and the hook; nothing the client sent
  // passes except a validated GIT_PROTOCOL.
  git.env = {
      "PATH=/usr/bin:/bin",
      "HOME=" + config.data_dir,
      "GIT_CONFIG_GLOBAL=/dev/null",
      "PUSHGATE_CONFIG=" + config.path,
      "PUSHGATE_APP=" + command.app,
      "PUSHGATE_USER=" + request.user,
      "PUSHGATE_KEY=" + request.fingerprint,
      "PUSHGATE_REQUEST_ID=" + request.request_id,
  };
  std::vector<std::pair<std::string, std::string>> settings = RepoSettings(hooks_dir);
  for (auto& setting : SessionSettings(config, command.service)) settings.push_back(std::move(setting));
  git.env.push_back("GIT_CONFIG_COUNT=" + std::to_string(settings.size()));
  for (size_t i = 0; i < settings.size(); ++i) {
    git.env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + settings[i].first);
    git.env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + settings[i].second);
  }
  if (decision.session_fd.valid()) {
    git.env.push_back("PUSHGATE_CLIENT_FD=" + std::to_string(decision.session_fd.get()));
  }
  if (request.git_protocol) {
    if (!IsValidGitProtocol(*request.git_protocol)) {
      log::Warn("dropped an invalid GIT_PROTOCOL from the client");
    } else if (command.service == GitService::kUploadPack &&
               request.git_protocol->find("version=2") != std::string::npos) {
      // Protocol v2 lets a fetch ask for any object in the repository, not
      // only what a branch reaches (uploadpack.allowAnySHA1InWant does not
      // hold there): a commit force-pushed away, with whatever secret it
      // held, would stay fetchable. Fetches speak v0, which serves only
      // what the branches reach.
      log::Debug("serving the fetch with protocol v0 instead of v2");
    } else {
      git.env.push_back("GIT_PROTOCOL=" + *request.git_protocol);
    }
  }
  decision.exec = true;
  log::Info("starting git", {{"repository", repo}, {"authorize_ms", authorize_ms}, {"lock_ms", lock_ms}});
  return decision;
}

int ServeSession(ShellDecision decision, const Config& config, const std::atomic<bool>* stop,
                 const std::function<void(std::string_view)>& tell) {
  if (!decision.lock) {
    Status s = ExecReplacing(decision.git, {});
    log::Error("cannot run git", {{"error", s.message()}});
    tell("pushgate could not start git on the server; tell the platform operator");
    return 1;
  }
  std::vector<UniqueFd> handed;
  handed.push_back(std::move(*decision.lock).Release());
  handed.push_back(std::move(decision.session_fd));
  SessionRelayOptions options;
  options.idle_timeout = config.push.idle_timeout;
  options.stop = stop;
  Result<SessionRelayResult> relayed = RunSessionRelay(std::move(decision.git), std::move(handed), {}, options);
  if (!relayed.ok()) {
    log::Error("cannot run git", {{"error", relayed.status().message()}});
    tell("pushgate could not start git on the server; tell the platform operator");
    return 1;
  }
  const ExitStatus& exit = relayed->exit;
  switch (relayed->outcome) {
    case SessionRelayResult::Outcome::kExited:
      return exit.exited ? exit.code : 128 + exit.signal;
    case SessionRelayResult::Outcome::kIdle:
      log::Warn("ended an idle push session", {{"idle_timeout", FormatDuration(config.push.idle_timeout)}});
      tell("pushgate: nothing was sent or received for " + FormatDuration(config.push.idle_timeout) +
           "; the push was ended so that others can deploy");
      return 1;
    case SessionRelayResult::Outcome::kClientGone:
      log::Info("the client disconnected; the push was stopped");
      return 1;
    case SessionRelayResult::Outcome::kStopped:
      log::Warn("the push was stopped by a signal");
      tell("pushgate: the push was stopped because the gateway is shutting down; try again shortly");
      return 1;
  }
  return 1;
}

}  // namespace pushgate
