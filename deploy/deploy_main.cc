// pushgate-deploy [--keep N]: the bundled build command (standalone mode).
//
// Unpacks $PUSHGATE_SOURCE as the next release of $PUSHGATE_APP under
// data_dir/releases and switches `current` to it. It runs no code from the
// pushed tree. Operators who want real builds set build.command to their own
// program, which receives the same PUSHGATE_* environment.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "config/config.h"
#include "program/command_line.h"
#include "deploy/release.h"

namespace {

// The hook stops a build it gives up on with SIGTERM; the deploy then
// removes what it unpacked instead of leaving it for the next one.
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("pushgate's bundled deploy step: unpack the pushed source as a new release", "pushgate-deploy");
  int keep = 5;
  std::string config_path = Env("PUSHGATE_CONFIG");
  app.add_option("--config", config_path, "configuration file (default: $PUSHGATE_CONFIG)");
  app.add_option("--keep", keep, "number of releases to keep")->check(CLI::Range(1, 1000))->capture_default_str();
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;

  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "pushgate-deploy: " << config.status().message() << "\n";
    return 1;
  }
  pushgate::DeployRequest request;
  request.releases_dir = config->dirs().Releases();
  request.app = Env("PUSHGATE_APP");
  request.commit = Env("PUSHGATE_SHA");
  request.archive_path = Env("PUSHGATE_SOURCE");
  request.archive_sha256 = Env("PUSHGATE_SOURCE_SHA256");
  request.keep = keep;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) ::sigaction(sig, &sa, nullptr);
  request.checkpoint = [] {
    return g_stop.load() ? pushgate::Status::Unavailable("stopped by a signal; the release was not deployed")
                         : pushgate::Status::OK();
  };
  pushgate::Result<pushgate::DeployResult> result = pushgate::DeployRelease(request);
  if (!result.ok()) {
    std::cerr << "pushgate-deploy: " << result.status().message() << "\n";
    return 1;
  }
  if (!result->warning.empty()) {
    std::cerr << "pushgate-deploy: warning: " << result->warning << " (the next deploy tries again)\n";
  }
  std::cout << "-----> " << request.app << " deployed: v" << result->version << " ("
            << request.commit.substr(0, 7) << ")" << std::endl;
  return 0;
}
