#include "session/session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>

#include "data-dir/drain.h"
#include "gitrepo/gitrepo.h"
#include "metrics/counters.h"
#include "program/startup.h"
#include "session/pusher_limits.h"
#include "session/session_relay.h"
#include "session/ssh_command.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/names.h"

namespace pushgate {
namespace {

// git's own configuration for the session. Passed through the environment
// (GIT_CONFIG_COUNT) as well as written at creation, so nothing in the
// repository's config can swap the hooks or turn object checks off.
std::vector<std::pair<std::string, std::string>> RepoSettings(const std::string& hooks_dir) {
  return {
      {"core.hooksPath", hooks_dir},
      {"receive.fsckObjects", "true"},
      {"transfer.fsckObjects", "true"},
      // Push options are data for the build (the hook checks them); git
      // itself never reads them as configuration.
      {"receive.advertisePushOptions", "true"},
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
bool ClientGone(const SessionRequest& request) {
  struct pollfd pfds[2] = {{request.session_fd, 0, 0}, {request.session_in_fd, 0, 0}};
  if (::poll(pfds, 2, 0) <= 0) return false;
  return (pfds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 || (pfds[1].revents & (POLLHUP | POLLNVAL)) != 0;
}

std::string HooksDir(const SessionRequest& request) { return request.libexec_dir + "/hooks"; }

// Milliseconds since the previous lap, for the log's phase timings.
class PhaseClock {
 public:
  std::string Lap() {
    auto now = std::chrono::steady_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start_).count();
    start_ = now;
    return std::to_string(ms);
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A failure on the gateway, not the client's: logged in full, summarised.
Refusal Unavailable(const Status& cause) {
  log::Error("push failed on the gateway", {{"error", cause.message()}});
  return Refusal{"pushgate could not prepare the repository (" + std::string(CodeName(cause.code())) +
                 "); try again shortly, and tell the platform operator if it persists"};
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

// A limit is a refusal with the limit's own words; failing to keep count
// is the gateway's failure.
std::optional<Refusal> LimitRefusal(const Status& status) {
  if (status.code() != Status::Code::kResourceExhausted) return Unavailable(status);
  log::Info("refused: over a per-pusher limit", {{"reason", status.message()}});
  return Refusal{status.message()};
}

std::optional<Refusal> CountPusherRequest(const Config& config, const SessionRequest& request) {
  Status counted = CountRequest(config.dirs(), request.user, PusherOf(request.user),
                                config.push.max_requests_per_minute, UnixNowMs());
  if (counted.ok()) return std::nullopt;
  return LimitRefusal(counted);
}

std::optional<Refusal> ParseRequest(const Config& config, const SessionRequest& request, GitCommand* command) {
  ParsedSshCommand parsed = ParseSshCommand(request.original_command.value_or(""));
  if (!parsed.ok) {
    if (parsed.error.kind == SshCommandError::Kind::kInvalidAppName) {
      log::Info("refused: invalid app name", {{"repository", parsed.error.repository}});
      return Refusal{"'" + parsed.error.repository +
                     "' is not a valid app name: use lowercase letters, digits and '-', "
                     "e.g. git push ssh://" + config.git_user + "@HOST/myapp.git main"};
    }
    log::Info("refused: not a git command");
    return Refusal{"Hi " + PusherOf(request.user) + "! pushgate does not provide shell access."};
  }
  *command = std::move(parsed.command);
  log::SetContext("app", command->app);
  log::SetContext("service", GitServiceName(command->service));
  return std::nullopt;
}

Backend::Access AccessOf(const GitCommand& command) {
  return command.service == GitService::kReceivePack ? Backend::Access::kWrite : Backend::Access::kRead;
}

std::optional<Refusal> AuthorizeRequest(const Config& config, Backend& backend, const SessionRequest& request,
                                        std::string_view app, Backend::Access access) {
  Status authorized = backend.Authorize(app, request.user, request.credential(), access);
  if (authorized.ok()) return std::nullopt;
  switch (authorized.code()) {
    case Status::Code::kNotFound:
    case Status::Code::kPermissionDenied: {
      log::Info("refused", {{"reason", authorized.message()}});
      // A deploy key asking for its own app learns no more than it knows
      // already, and the precise reason says what to ask the operator for.
      std::optional<DeployKeyId> deploy_key = ParseDeployKeyOwner(request.user);
      if (deploy_key && deploy_key->app == app && authorized.code() == Status::Code::kPermissionDenied) {
        return Refusal{authorized.message()};
      }
      return Refusal{AccessRefusal(app, authorized.IsNotFound(), config.push.distinguish_missing_apps)};
    }
    case Status::Code::kUnavailable:
    case Status::Code::kTimeout:
      log::Warn("authorization unavailable", {{"error", authorized.message()}});
      return Refusal{authorized.message()};
    case Status::Code::kUnimplemented:
      log::Error("pushgate and the controller do not fit together", {{"error", authorized.message()}});
      return Refusal{"pushgate is misconfigured on the server; tell the platform operator"};
    default: return Unavailable(authorized);
  }
}

std::optional<Refusal> PrepareDataDir(const Config& config) {
  for (const std::string& dir : {config.data_dir, config.dirs().Repos(), config.dirs().Locks(), config.dirs().Tmp()}) {
    Status made = MakeDirs(dir, 0750);
    if (!made.ok()) return Unavailable(made);
  }
  return std::nullopt;
}

std::optional<Refusal> LockApp(const Config& config, const SessionRequest& request, std::string_view app,
                               const std::function<void(std::string_view)>& notify, std::optional<FileLock>* lock,
                               bool* waited) {
  Result<bool> draining = IsDraining(config.dirs());
  if (!draining.ok()) return Unavailable(draining.status());
  if (*draining) {
    log::Info("refused: draining");
    return Refusal{DrainingMessage(app)};
  }
  bool client_gone = false;
  Result<FileLock> acquired = FileLock::Acquire(
      config.dirs().AppLock(app), config.push.lock_timeout,
      [&] {
        *waited = true;
        notify("waiting for the deploy in progress...");
      },
      // A waiter whose client has gone has nothing left to run.
      [&] { return client_gone = ClientGone(request); });
  if (!acquired.ok()) {
    if (acquired.status().IsTimeout()) {
      return Refusal{"another deploy of " + std::string(app) + " is still running after " +
                     FormatDuration(config.push.lock_timeout) + "; try again when it has finished"};
    }
    if (client_gone) {
      log::Info("the client left while waiting for the app lock");
      return Refusal{"the connection closed while waiting for the deploy in progress"};
    }
    return Unavailable(acquired.status());
  }
  lock->emplace(std::move(acquired).value());
  return std::nullopt;
}

std::optional<Refusal> AcquirePushLock(const Config& config, const SessionRequest& request, const GitCommand& command,
                                       const std::function<void(std::string_view)>& notify, PushLock* push) {
  if (command.service != GitService::kReceivePack) return std::nullopt;
  Result<std::optional<FileLock>> slot =
      TakePushSlot(config.dirs(), request.user, PusherOf(request.user), config.push.max_pushes_per_user);
  if (!slot.ok()) return LimitRefusal(slot.status());
  push->slot = std::move(slot).value();
  if (std::optional<Refusal> no = LockApp(config, request, command.app, notify, &push->lock, &push->waited)) {
    return no;
  }
  // Not close-on-exec: it must reach the hook through git-receive-pack.
  push->session_fd.Reset(::fcntl(request.session_fd, F_DUPFD, 3));
  if (!push->session_fd.valid()) return Unavailable(Status::FromErrno(errno, "dup the session channel"));
  return std::nullopt;
}

std::optional<Refusal> PrepareRepository(const Config& config, const SessionRequest& request,
                                         const GitCommand& command, bool locked) {
  std::string repo = config.dirs().Repo(command.app);
  Status created = CreateBareRepository(repo, RepoSettings(HooksDir(request)), config.git_path);
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
  // Only a lock holder may touch git's lock files: without the lock they
  // may belong to a push in progress.
  if (locked) {
    Result<std::vector<std::string>> removed = RemoveLeftoversOfKilledGit(repo);
    if (!removed.ok()) return Unavailable(removed.status());
    for (const std::string& path : *removed) {
      log::Warn("removed what a killed push left in the repository", {{"path", repo + "/" + path}});
    }
  }
  return std::nullopt;
}

SpawnSpec DescribeGit(const Config& config, const SessionRequest& request, const GitCommand& command,
                      int hook_session_fd) {
  std::string repo = config.dirs().Repo(command.app);
  SpawnSpec git;
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
      "PUSHGATE_USER=" + PusherOf(request.user),
      "PUSHGATE_KEY_OWNER=" + request.user,
      "PUSHGATE_KEY=" + request.fingerprint,
      "PUSHGATE_CA=" + request.ca_fingerprint,
      "PUSHGATE_REQUEST_ID=" + request.request_id,
  };
  std::vector<std::pair<std::string, std::string>> settings = RepoSettings(HooksDir(request));
  for (auto& setting : SessionSettings(config, command.service)) settings.push_back(std::move(setting));
  git.env.push_back("GIT_CONFIG_COUNT=" + std::to_string(settings.size()));
  for (size_t i = 0; i < settings.size(); ++i) {
    git.env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + settings[i].first);
    git.env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + settings[i].second);
  }
  if (hook_session_fd >= 0) git.env.push_back("PUSHGATE_CLIENT_FD=" + std::to_string(hook_session_fd));
  if (!request.client.empty()) git.env.push_back("PUSHGATE_CLIENT=" + request.client);
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
  return git;
}

SessionDecision DecideSession(const Config& config, Backend& backend, const SessionRequest& request,
                              const std::function<void(std::string_view)>& notify) {
  SessionDecision decision;
  auto refuse = [&decision](Refusal refusal) {
    decision.message = std::move(refusal.message);
    decision.exit_code = refusal.exit_code;
    return std::move(decision);
  };
  // Phase timings for the log: what a slow push spent its time on.
  PhaseClock clock;
  GitCommand command;
  if (std::optional<Refusal> no = ParseRequest(config, request, &command)) return refuse(std::move(*no));
  if (std::optional<Refusal> no = AuthorizeRequest(config, backend, request, command.app, AccessOf(command))) {
    return refuse(std::move(*no));
  }
  std::string authorize_ms = clock.Lap();
  if (std::optional<Refusal> no = PrepareDataDir(config)) return refuse(std::move(*no));
  PushLock push;
  if (std::optional<Refusal> no = AcquirePushLock(config, request, command, notify, &push)) {
    return refuse(std::move(*no));
  }
  std::string lock_ms = push.lock ? clock.Lap() : "0";
  if (push.waited) log::Info("waited for the app lock", {{"ms", lock_ms}});
  if (std::optional<Refusal> no = PrepareRepository(config, request, command, push.lock.has_value())) {
    return refuse(std::move(*no));
  }
  decision.git = DescribeGit(config, request, command, push.session_fd.valid() ? push.session_fd.get() : -1);
  decision.lock = std::move(push.lock);
  decision.slot = std::move(push.slot);
  decision.session_fd = std::move(push.session_fd);
  decision.exec = true;
  log::Info("starting git", {{"repository", config.dirs().Repo(command.app)},
                             {"authorize_ms", authorize_ms},
                             {"lock_ms", lock_ms}});
  return decision;
}

int ServeSession(SessionDecision decision, const Config& config, const std::atomic<bool>* stop,
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
  if (decision.slot) handed.push_back(std::move(*decision.slot).Release());
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

namespace {

// The log may be what is broken (a syslog that is not there, a file that
// cannot be written): the reason goes to the pusher too, so the operator
// hears it from the pusher at least.
int Misconfigured(const Status& status, const std::function<void(std::string_view)>& tell) {
  log::Error("pushgate is misconfigured", {{"error", status.message()}});
  tell("pushgate is misconfigured on the server (" + Printable(status.message(), 300) +
       "); tell the platform operator");
  return 1;
}

}  // namespace

int RunSession(const Config& config, const SessionRequest& request, std::atomic<bool>* stop,
               const std::function<void(std::string_view)>& tell) {
  log::SetContext("request_id", request.request_id);
  // The owner names files (data_dir/pushers) and goes to git's environment:
  // whatever the front end read it from, it is checked here once more.
  if (!IsValidKeyOwner(request.user) || !IsValidSha256Fingerprint(request.fingerprint) ||
      (!request.ca_fingerprint.empty() && !IsValidSha256Fingerprint(request.ca_fingerprint))) {
    return Misconfigured(Status::InvalidArgument("the session's user or key is not valid: " +
                                                 Printable(request.user, 80)),
                         tell);
  }
  log::SetContext("user", PusherOf(request.user));
  if (std::optional<DeployKeyId> deploy_key = ParseDeployKeyOwner(request.user)) {
    log::SetContext("deploy_key_app", deploy_key->app);
  }
  log::SetContext("key", request.fingerprint);
  if (!request.client.empty()) log::SetContext("client", Printable(request.client, 100));
  // The front end authenticated this key: counting the hit here keeps the
  // keys helper's hit path free of writes.
  metrics::Add(config.data_dir, metrics::Counter::kKeyHit);

  Result<std::unique_ptr<Backend>> backend = OpenBackend(config, request.request_id);
  if (!backend.ok()) return Misconfigured(backend.status().Annotate("cannot open backend"), tell);

  if (std::optional<Refusal> no = CountPusherRequest(config, request)) {
    metrics::Add(config.data_dir, metrics::Counter::kSessionRefused);
    tell(no->message);
    return no->exit_code;
  }
  // Anything that is not a git command is a pusher command or refused by
  // ParsePusherCommand; an invalid app name in a git command is refused as
  // one (DecideSession).
  ParsedSshCommand git = ParseSshCommand(request.original_command.value_or(""));
  if (!git.ok && git.error.kind == SshCommandError::Kind::kNotGit) {
    ParsedPusherCommand pusher = ParsePusherCommand(request.original_command, config.git_user);
    if (!pusher.ok) {
      log::Info("refused: not a known command");
      metrics::Add(config.data_dir, metrics::Counter::kSessionRefused);
      tell(pusher.error);
      return 1;
    }
    return ServePusherCommand(config, **backend, request, pusher.command, tell);
  }
  SessionDecision decision = DecideSession(config, **backend, request, tell);
  if (!decision.exec) {
    metrics::Add(config.data_dir, metrics::Counter::kSessionRefused);
    tell(decision.message);
    return decision.exit_code;
  }
  // Only receive-pack holds the app lock.
  metrics::Add(config.data_dir, decision.lock ? metrics::Counter::kSessionPush : metrics::Counter::kSessionFetch);
  // Only now: until the session starts, a SIGTERM ends the process at once
  // (a lock wait included). From here on a SIGHUP or SIGTERM ends the push
  // the way an idle session ends.
  StopOnSignals(stop);
  return ServeSession(std::move(decision), config, stop, tell);
}

}  // namespace pushgate
