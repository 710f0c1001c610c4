// pushgate-deploy [--config FILE] [--keep N]: the bundled build command
// (standalone mode).
//
// Unpacks $PUSHGATE_SOURCE as the next release of $PUSHGATE_APP under
// data_dir/releases and switches `current` to it (deploy_program.h). It runs
// no code from the pushed tree. Operators who want real builds set
// build.command to their own program, which receives the same PUSHGATE_*
// environment.
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "deploy/deploy_program.h"
#include "program/command_line.h"
#include "program/startup.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate's bundled deploy step: unpack the pushed source as a new release", "pushgate-deploy");
  int keep = 5;
  std::string config_path = pushgate::EnvOrEmpty("PUSHGATE_CONFIG");
  app.add_option("--config", config_path, "configuration file (default: $PUSHGATE_CONFIG)");
  app.add_option("--keep", keep, "number of releases to keep")->check(CLI::Range(1, 1000))->capture_default_str();
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;
  return pushgate::RunDeployProgram(config_path, keep);
}
