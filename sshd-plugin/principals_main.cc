// pushgate-principals --config FILE USER CA_FINGERPRINT KEY_FINGERPRINT CERTIFICATE
//
// sshd's AuthorizedPrincipalsCommand (%u %F %f %k). Arguments are read by
// position, as in pushgate-keys. Exit status: see RunPrincipalsHelper
// (certificates.h); 2 usage.
#include <unistd.h>

#include <cstring>
#include <string>

#include "config/config.h"
#include "sshd-plugin/certificates.h"
#include "util/fs.h"

int main(int argc, char** argv) {
  std::string config_path(pushgate::kDefaultConfigPath);
  int arg = 1;
  if (arg < argc && std::strcmp(argv[arg], "--config") == 0 && arg + 1 < argc) {
    config_path = argv[arg + 1];
    arg += 2;
  }
  if (argc - arg != 4) {
    (void)pushgate::WriteAll(STDERR_FILENO, "usage: pushgate-principals [--config FILE] %u %F %f %k\n");
    return 2;
  }
  return pushgate::RunPrincipalsHelper(config_path, {argv[arg], argv[arg + 1], argv[arg + 2], argv[arg + 3]});
}
