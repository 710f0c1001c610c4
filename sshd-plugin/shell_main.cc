// pushgate-shell --config FILE --user USER --key FINGERPRINT
//
// The forced command on every key pushgate-keys accepts. Exit status: 1 for a
// refused request (with a one-line message on stderr), otherwise git's.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "config/config.h"
#include "metrics/counters.h"
#include "program/command_line.h"
#include "session/session.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/names.h"
#include "util/random_id.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void TellPusher(std::string_view line) {
  std::string text(line);
  text += '\n';
  (void)pushgate::WriteAll(STDERR_FILENO, text);
}

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The log may be what is broken (a syslog that is not there, a file that
// cannot be written): the reason goes to stderr too, which is the pusher's
// terminal here, so the operator hears it from the pusher at least.
int Misconfigured(std::string_view what, const pushgate::Status& status) {
  pushgate::log::Error(what, {{"error", status.message()}});
  TellPusher("pushgate is misconfigured on the server (" + std::string(what) + ": " +
             pushgate::Printable(status.message(), 300) + "); tell the platform operator");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate forced command: serves git push and fetch for one authenticated user", "pushgate-shell");
  std::string config_path(pushgate::kDefaultConfigPath);
  pushgate::SessionRequest request;
  app.add_option("--config", config_path, "configuration file")->capture_default_str();
  app.add_option("--user", request.user, "platform user the key belongs to")->required();
  app.add_option("--key", request.fingerprint, "SHA256 fingerprint of the authenticated key")->required();
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;

  pushgate::log::Configure("pushgate-shell", {pushgate::log::Destination::Kind::kSyslog, ""},
                           pushgate::log::Level::kInfo);
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) return Misconfigured("cannot load config", config.status());
  pushgate::log::Configure("pushgate-shell", config->log.destination, config->log.level);

  request.original_command = Env("SSH_ORIGINAL_COMMAND");
  request.git_protocol = Env("GIT_PROTOCOL");
  request.request_id = pushgate::RandomHex(8);
  pushgate::log::SetContext("request_id", request.request_id);
  pushgate::log::SetContext("user", request.user);
  pushgate::log::SetContext("key", request.fingerprint);
  // sshd's "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT": matches the
  // connection in sshd's own log.
  if (std::optional<std::string> connection = Env("SSH_CONNECTION")) {
    pushgate::log::SetContext("connection", pushgate::Printable(*connection, 100));
  }
  // sshd ran this forced command because the keys helper matched the key:
  // counting the hit here keeps the helper's hit path free of writes.
  pushgate::metrics::Add(config->data_dir, pushgate::metrics::Counter::kKeyHit);
  pushgate::Result<std::string> self_dir = pushgate::ExecutableDir();
  if (!self_dir.ok()) return Misconfigured("cannot locate the installation", self_dir.status());
  request.libexec_dir = *self_dir;

  pushgate::Result<std::unique_ptr<pushgate::Backend>> backend = pushgate::OpenBackend(*config, request.request_id);
  if (!backend.ok()) return Misconfigured("cannot open backend", backend.status());

  pushgate::SessionDecision decision = pushgate::DecideSession(*config, **backend, request, TellPusher);
  if (!decision.exec) {
    pushgate::metrics::Add(config->data_dir, pushgate::metrics::Counter::kSessionRefused);
    TellPusher(decision.message);
    return decision.exit_code;
  }
  // Only receive-pack holds the app lock.
  pushgate::metrics::Add(config->data_dir, decision.lock ? pushgate::metrics::Counter::kSessionPush
                                                         : pushgate::metrics::Counter::kSessionFetch);
  // A client that went away shows up as EPIPE; sshd's SIGHUP or a SIGTERM
  // ends the push the way an idle session ends.
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) ::sigaction(sig, &sa, nullptr);
  return pushgate::ServeSession(std::move(decision), *config, &g_stop, TellPusher);
}
