// pushgate-sshd: the gateway's own SSH server, for containers and load
// balancers (docs/operations.md, "Choosing a front end").
//
//   pushgate-sshd --config F [--log-destination stderr]
//
// Runs as git_user, never as root (server.h).
#include <CLI/CLI.hpp>
#include <optional>

#include "config/config.h"
#include "program/command_line.h"
#include "ssh-server/server.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate-sshd: pushgate's own SSH server (git push and fetch only)", "pushgate-sshd");
  pushgate::SshServerOptions options;
  options.config_path = pushgate::kDefaultConfigPath;
  app.add_option("--config", options.config_path, "configuration file")->capture_default_str();
  app.add_option("--listen", options.listen, "listen here instead of sshd.listen (127.0.0.1:2222, [::]:22)");
  app.add_option("--log-destination", options.log_destination,
                 "log here instead of [log] destination (stderr, syslog, /path)");
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  return pushgate::RunSshServer(options);
}
