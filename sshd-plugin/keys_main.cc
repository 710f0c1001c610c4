// pushgate-keys --config FILE USER FINGERPRINT KEYTYPE KEY
//
// Arguments are fixed by the AuthorizedKeysCommand line (%u %f %t %k), so they
// are read by position: a general option parser would only add start-up cost
// to the hottest binary. Exit status: 0 answered (a line or nothing), 1 error
// (logged; nothing printed, so sshd denies), 2 usage.
#include <unistd.h>

#include <cstring>
#include <string>

#include "config/config.h"
#include "sshd-plugin/keys.h"
#include "util/fs.h"
#include "util/log.h"

namespace {

constexpr char kUsage[] = "usage: pushgate-keys [--config FILE] %u %f %t %k\n";

// pushgate-shell is installed beside this executable.
std::string ShellPath() {
  pushgate::Result<std::string> dir = pushgate::ExecutableDir();
  return dir.ok() ? *dir + "/pushgate-shell" : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path(pushgate::kDefaultConfigPath);
  int arg = 1;
  if (arg < argc && std::strcmp(argv[arg], "--config") == 0 && arg + 1 < argc) {
    config_path = argv[arg + 1];
    arg += 2;
  } else if (arg < argc && std::strncmp(argv[arg], "--config=", 9) == 0) {
    config_path = argv[arg] + 9;
    arg += 1;
  }
  if (argc - arg != 4) {
    (void)pushgate::WriteAll(STDERR_FILENO, kUsage);
    return 2;
  }
  // sshd discards the helper's stderr unless it runs with debug logging.
  pushgate::log::Configure("pushgate-keys", {pushgate::log::Destination::Kind::kSyslog, ""},
                           pushgate::log::Level::kInfo);
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) {
    pushgate::log::Error("cannot load config", {{"error", config.status().message()}});
    return 1;
  }
  pushgate::log::Configure("pushgate-keys", config->log.destination, config->log.level);

  pushgate::KeysQuery query{argv[arg], argv[arg + 1], argv[arg + 2], argv[arg + 3]};
  pushgate::Result<std::string> line = pushgate::AnswerKeysQuery(*config, ShellPath(), query);
  if (!line.ok()) {
    pushgate::log::Error("key lookup failed; denying",
                         {{"error", line.status().message()}, {"key", query.fingerprint}});
    return 1;
  }
  if (line->empty()) {
    pushgate::log::Debug("no match", {{"key", query.fingerprint}, {"login", query.login_user}});
    return 0;
  }
  return pushgate::WriteAll(STDOUT_FILENO, *line).ok() ? 0 : 1;
}
