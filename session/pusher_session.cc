// The pusher commands' side of a session (pusher_command.h): the same
// backend, access rules and app lock as a push, with output on the
// channel's stdout so that scripts can read it (`ssh git@host info --json`).
#include <unistd.h>

#include "metrics/counters.h"
#include "releases/releases.h"
#include "session/pusher_command.h"
#include "session/session.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/names.h"

namespace pushgate {
namespace {

// What a pusher command needs besides its arguments.
struct PusherContext {
  const Config& config;
  Backend& backend;
  const SessionRequest& request;
  const std::function<void(std::string_view)>& tell;

  // Output for the pusher's scripts, on the channel's stdout.
  int Print(std::string_view text) const {
    Status written = WriteAll(request.session_fd, text);
    if (!written.ok()) log::Info("the client left before reading the answer", {{"error", written.message()}});
    return written.ok() ? 0 : 1;
  }
  int Refuse(const Refusal& refusal) const {
    metrics::Add(config.data_dir, metrics::Counter::kSessionRefused);
    tell(refusal.message);
    return refusal.exit_code;
  }
  std::string AppDir(std::string_view app) const { return config.dirs().Releases() + "/" + std::string(app); }
};

// Releases are pushgate's only where pushgate deploys them.
std::optional<Refusal> RefuseOnController(const Config& config, std::string_view app) {
  if (config.mode != Mode::kController) return std::nullopt;
  return Refusal{"the releases of " + std::string(app) +
                 " are kept by the platform, not by pushgate: use the platform's client (Workflow: deis releases -a " +
                 std::string(app) + ")"};
}

std::string AppList(const std::vector<Backend::AppPermission>& apps, bool push) {
  std::string out;
  for (const Backend::AppPermission& a : apps) {
    if (a.push == push) out += (out.empty() ? "" : ", ") + a.app;
  }
  return out;
}

// `ssh git@host` with no command: still no shell, but a useful answer.
int Hello(const PusherContext& c) {
  std::string line = "Hi " + PusherOf(c.request.user) + "! ";
  Result<std::vector<Backend::AppPermission>> apps = c.backend.ListAccess(c.request.user, c.request.credential());
  if (apps.ok()) {
    std::string push = AppList(*apps, true), fetch = AppList(*apps, false);
    if (!push.empty()) line += "You can push to: " + push + ". ";
    if (!fetch.empty()) line += "You can fetch: " + fetch + ". ";
    if (push.empty() && fetch.empty()) line += "You have no apps yet. ";
  }
  log::Info("greeted an interactive login");
  return c.Refuse(Refusal{line + "pushgate does not provide shell access."});
}

int Info(const PusherContext& c, bool json) {
  std::optional<DeployKeyId> deploy_key = ParseDeployKeyOwner(c.request.user);
  Result<std::vector<Backend::AppPermission>> apps = c.backend.ListAccess(c.request.user, c.request.credential());
  if (!apps.ok() && apps.status().code() != Status::Code::kUnimplemented) {
    log::Warn("cannot list the apps", {{"error", apps.status().message()}});
    return c.Refuse(Refusal{"pushgate could not list your apps; try again shortly"});
  }
  if (json) {
    std::string list = "[";
    if (apps.ok()) {
      for (const Backend::AppPermission& a : *apps) {
        if (list.size() > 1) list += ",";
        list += JsonObject().Add("name", a.app).AddRaw("fetch", "true").AddRaw("push", a.push ? "true" : "false").Finish();
      }
    }
    list += "]";
    JsonObject out;
    out.Add("user", PusherOf(c.request.user));
    out.AddRaw("deploy_key", deploy_key ? JsonObject().Add("name", deploy_key->name).Add("app", deploy_key->app).Finish()
                                        : "null");
    out.Add("key", c.request.fingerprint);
    out.AddRaw("apps", apps.ok() ? list : "null");  // null: the platform lists them
    return c.Print(out.Finish() + "\n");
  }
  std::string text = "hello " + PusherOf(c.request.user);
  if (deploy_key) text += ", a deploy key of " + std::string(deploy_key->app);
  text += "\nkey " + c.request.fingerprint + "\n\n";
  if (!apps.ok()) {
    text += "your apps are listed by the platform (Workflow: deis apps:list)\n";
  } else if (apps->empty()) {
    text += "you have no apps yet\n";
  } else {
    for (const Backend::AppPermission& a : *apps) text += std::string(a.push ? " R W  " : " R    ") + a.app + "\n";
  }
  return c.Print(text);
}

int Releases(const PusherContext& c, const std::string& app) {
  if (std::optional<Refusal> no = RefuseOnController(c.config, app)) return c.Refuse(*no);
  if (std::optional<Refusal> no = AuthorizeRequest(c.config, c.backend, c.request, app, Backend::Access::kRead)) {
    return c.Refuse(*no);
  }
  Result<std::vector<ReleaseRecord>> releases = ListReleaseRecords(c.AppDir(app));
  if (!releases.ok()) {
    log::Error("cannot list the releases", {{"error", releases.status().message()}});
    return c.Refuse(Refusal{"pushgate could not read the releases of " + app + "; tell the platform operator"});
  }
  if (releases->empty()) return c.Print(app + " has no releases yet\n");
  std::string text = FormatReleaseList(*releases);
  return c.Print(text);
}

int Logs(const PusherContext& c, const std::string& app, std::optional<int> version) {
  if (std::optional<Refusal> no = RefuseOnController(c.config, app)) return c.Refuse(*no);
  if (std::optional<Refusal> no = AuthorizeRequest(c.config, c.backend, c.request, app, Backend::Access::kRead)) {
    return c.Refuse(*no);
  }
  Result<std::string> log = ReadBuildLog(c.AppDir(app), version);
  if (!log.ok()) {
    if (log.status().IsNotFound()) return c.Refuse(Refusal{app + ": " + log.status().message()});
    log::Error("cannot read a build log", {{"error", log.status().message()}});
    return c.Refuse(Refusal{"pushgate could not read the build log of " + app + "; tell the platform operator"});
  }
  return c.Print(*log);
}

int Rollback(const PusherContext& c, const std::string& app, std::optional<int> version) {
  if (std::optional<Refusal> no = RefuseOnController(c.config, app)) return c.Refuse(*no);
  if (std::optional<Refusal> no = AuthorizeRequest(c.config, c.backend, c.request, app, Backend::Access::kWrite)) {
    return c.Refuse(*no);
  }
  std::optional<FileLock> lock;
  bool waited = false;
  // `ssh host rollback APP` ends its stdin at once (there is nothing to
  // send): only the output side of the channel tells that the client left.
  SessionRequest watched = c.request;
  watched.session_in_fd = -1;
  if (std::optional<Refusal> no = LockApp(c.config, watched, app, c.tell, &lock, &waited)) return c.Refuse(*no);
  std::string was;
  Result<std::string> current = CurrentRelease(c.AppDir(app));
  if (current.ok()) was = *current;
  std::string by = PusherOf(c.request.user);
  Result<ReleaseRecord> now = RollBack(c.AppDir(app), version, by);
  if (!now.ok()) {
    if (now.status().code() == Status::Code::kInvalidArgument) return c.Refuse(Refusal{app + ": " + now.status().message()});
    log::Error("cannot roll back", {{"error", now.status().message()}});
    return c.Refuse(Refusal{"pushgate could not roll back " + app + "; tell the platform operator"});
  }
  log::Info("rolled back", {{"release", now->name}, {"was", was}});
  metrics::Add(c.config.data_dir, metrics::Counter::kRollback);
  std::string line = "-----> " + app + " rolled back to v" + std::to_string(now->version) + " (" +
                     now->name.substr(now->name.find('-') + 1) +
                     (now->pusher.empty() ? "" : ", pushed by " + now->pusher) + ")";
  if (ReleaseVersion(was) > 0) line += "; it was v" + std::to_string(ReleaseVersion(was));
  return c.Print(line + "\n");
}

}  // namespace

int ServePusherCommand(const Config& config, Backend& backend, const SessionRequest& request,
                       const PusherCommand& command, const std::function<void(std::string_view)>& tell) {
  PusherContext c{config, backend, request, tell};
  if (command.kind != PusherCommandKind::kHello) {
    log::SetContext("command", FormatPusherCommand(command));
    metrics::Add(config.data_dir, metrics::Counter::kSessionCommand);
  }
  switch (command.kind) {
    case PusherCommandKind::kHello: return Hello(c);
    case PusherCommandKind::kInfo: return Info(c, command.json);
    case PusherCommandKind::kReleases: return Releases(c, command.app);
    case PusherCommandKind::kRollback: return Rollback(c, command.app, command.version);
    case PusherCommandKind::kLogs: return Logs(c, command.app, command.version);
  }
  return 1;
}

}  // namespace pushgate
