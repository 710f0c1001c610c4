#include "sshd-plugin/forced_command.h"

#include <atomic>
#include <optional>

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

// sshd's "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT": the client's part.
std::string ClientFromEnvironment() {
  std::string connection = EnvOrEmpty("SSH_CONNECTION");
  size_t first = connection.find(' ');
  size_t second = first == std::string::npos ? std::string::npos : connection.find(' ', first + 1);
  return Printable(connection.substr(0, second), 100);
}

}  // namespace

int RunForcedCommand(const ForcedCommandOptions& options) {
  Result<Started> started = StartProgram({"pushgate-shell", options.config_path, "", false});
  if (!started.ok()) {
    log::Error("pushgate is misconfigured", {{"error", started.status().message()}});
    TellPusher("pushgate is misconfigured on the server (" + Printable(started.status().message(), 300) +
               "); tell the platform operator");
    return 1;
  }
  SessionRequest request;
  request.user = options.user;
  request.fingerprint = options.fingerprint;
  request.ca_fingerprint = options.ca_fingerprint;
  request.original_command = EnvIfSet("SSH_ORIGINAL_COMMAND");
  request.git_protocol = EnvIfSet("GIT_PROTOCOL");
  request.request_id = RandomHex(8);
  request.client = ClientFromEnvironment();
  request.libexec_dir = started->libexec_dir;
  return RunSession(started->config, request, &g_stop, TellPusher);
}

}  // namespace pushgate
