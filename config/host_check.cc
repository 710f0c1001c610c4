#include "config/host_check.h"

#include <pwd.h>
#include <unistd.h>

#include "util/fs.h"

namespace pushgate {
namespace {

void CheckExecutable(const std::string& path, const std::string& key, std::vector<std::string>& problems) {
  if (::access(path.c_str(), X_OK) != 0) problems.push_back(key + ": " + path + " is not an executable program here");
}

void CheckReadable(const std::string& path, const std::string& key, std::vector<std::string>& problems) {
  if (::access(path.c_str(), R_OK) != 0) problems.push_back(key + ": " + path + " cannot be read");
}

}  // namespace

std::vector<std::string> CheckHost(const Config& config) {
  std::vector<std::string> problems;
  if (::getpwnam(config.git_user.c_str()) == nullptr) {
    problems.push_back("git_user: there is no account named " + config.git_user +
                       " on this machine (create it: useradd --system --shell /bin/sh " + config.git_user + ")");
  }
  CheckExecutable(config.git_path, "git_path", problems);
  if (!config.build.command.empty()) CheckExecutable(config.build.command.front(), "build.command", problems);
  if (config.mode == Mode::kController) {
    CheckReadable(config.controller.token_file, "controller.token_file", problems);
    if (!config.controller.ca_file.empty()) CheckReadable(config.controller.ca_file, "controller.ca_file", problems);
  }
  bool builds_images = !config.build.command.empty() &&
                       config.build.command.front().size() >= 20 &&
                       config.build.command.front().ends_with("/pushgate-build-image");
  if (builds_images && config.build.registry.empty()) {
    problems.push_back("build.registry: pushgate-build-image pushes images there; set it");
  }
  if (config.log.destination.kind == log::Destination::Kind::kFile) {
    std::string dir = DirName(config.log.destination.path);
    if (!PathExists(dir)) problems.push_back("log.destination: the directory " + dir + " does not exist");
  }
  return problems;
}

}  // namespace pushgate
