// pushgate-keys --config FILE USER FINGERPRINT KEYTYPE KEY
//
// Arguments are fixed by the AuthorizedKeysCommand line (%u %f %t %k), so they
// are read by position: a general option parser would only add start-up cost
// to the hottest binary. Exit status: see RunKeysHelper (keys.h); 2 usage.
#include <unistd.h>

#include <cstring>
#include <string>

#include "config/config.h"
#include "sshd-plugin/keys.h"
#include "util/fs.h"

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
    (void)pushgate::WriteAll(STDERR_FILENO, "usage: pushgate-keys [--config FILE] %u %f %t %k\n");
    return 2;
  }
  return pushgate::RunKeysHelper(config_path, {argv[arg], argv[arg + 1], argv[arg + 2], argv[arg + 3]});
}
