// pushgate-sshd's host keys: read from the configured files, or created on
// first start (0600, in a 0700 directory) the way the container entrypoint
// creates OpenSSH's, so a restart keeps the host's identity.
#ifndef PUSHGATE_SSH_SERVER_HOST_KEYS_H_
#define PUSHGATE_SSH_SERVER_HOST_KEYS_H_

#include <string>
#include <vector>

#include "ssh-server/libssh_handles.h"
#include "util/status.h"

namespace pushgate {

struct HostKey {
  std::string path;
  std::string type;         // "ssh-ed25519"
  std::string fingerprint;  // "SHA256:...", as ssh-keygen -lf prints it
  bool created = false;     // made by this start
  SshKey key;
};

// Loads each file, creating the missing ones: a name containing "rsa" gets
// a 3072-bit RSA key, "ecdsa" a P-256 key, any other an ed25519 key. A key
// file that group or others can read is refused, as OpenSSH refuses it.
Result<std::vector<HostKey>> LoadOrCreateHostKeys(const std::vector<std::string>& paths);

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_HOST_KEYS_H_
