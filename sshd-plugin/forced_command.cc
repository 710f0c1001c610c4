#include "sshd-plugin/forced_command.h"

#include <unistd.h>

#include <atomic>
#include <optional>

#include "backend/backend.h"
#include "metrics/counters.h"
#include "program/startup.h"
#include "session/session.h"
#include "util/log.h"
#include "util/names.h"
#include "util/random_id.h"

namespace pushgate {
namespace {

std::atomic<bool> g_stop{false};

// stderr is the pusher's terminal here.
void TellPusher(std::string_view line) { PrintError(line); }

// The log may be what is broken (a syslog that is not there, a file that
// cannot be written): the reason goes to the pusher too, so the operator
// hears it from the pusher at least.
int Misconfigured(const Status& status) {
  log::Error("pushgate is misconfigured", {{"error", status.message()}});
  TellPusher("pushgate is misconfigured on the server (" + Printable(status.message(), 300) +
             "); tell the platform operator");
  return 1;
}

SessionRequest RequestFromEnvironment(const ForcedCommandOptions& options, const std::string& libexec_dir) {
  SessionRequest request;
  request.user = options.user;
  request.fingerprint = options.fingerprint;
  request.original_command = EnvIfSet("SSH_ORIGINAL_COMMAND");
  request.git_protocol = EnvIfSet("GIT_PROTOCOL");
  request.request_id = RandomHex(8);
  request.libexec_dir = libexec_dir;
  return request;
}

void SetLogContext(const SessionRequest& request) {
  log::SetContext("request_id", request.request_id);
  log::SetContext("user", request.user);
  log::SetContext("key", request.fingerprint);
  // sshd's "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT": matches the
  // connection in sshd's own log.
  if (std::optional<std::string> connection = EnvIfSet("SSH_CONNECTION")) {
    log::SetContext("connection", Printable(*connection, 100));
  }
}

}  // namespace

int RunForcedCommand(const ForcedCommandOptions& options) {
  Result<Started> started = StartProgram({"pushgate-shell", options.config_path, "", false});
  if (!started.ok()) return Misconfigured(started.status());
  const Config& config = started->config;
  SessionRequest request = RequestFromEnvironment(options, started->libexec_dir);
  SetLogContext(request);
  // sshd ran this forced command because the keys helper matched the key:
  // counting the hit here keeps the helper's hit path free of writes.
  metrics::Add(config.data_dir, metrics::Counter::kKeyHit);

  Result<std::unique_ptr<Backend>> backend = OpenBackend(config, request.request_id);
  if (!backend.ok()) return Misconfigured(backend.status().Annotate("cannot open backend"));

  SessionDecision decision = DecideSession(config, **backend, request, TellPusher);
  if (!decision.exec) {
    metrics::Add(config.data_dir, metrics::Counter::kSessionRefused);
    TellPusher(decision.message);
    return decision.exit_code;
  }
  // Only receive-pack holds the app lock.
  metrics::Add(config.data_dir, decision.lock ? metrics::Counter::kSessionPush : metrics::Counter::kSessionFetch);
  // Only now: until the session starts, a SIGTERM ends the process at once
  // (a lock wait included). From here on sshd's SIGHUP or a SIGTERM ends the
  // push the way an idle session ends.
  StopOnSignals(&g_stop);
  return ServeSession(std::move(decision), config, &g_stop, TellPusher);
}

}  // namespace pushgate
