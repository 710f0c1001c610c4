#include "ssh-server/libssh_handles.h"

#include <cstdlib>

namespace pushgate {

Status SshError(std::string_view what, void* handle) {
  std::string message(what);
  const char* detail = handle == nullptr ? nullptr : ssh_get_error(handle);
  if (detail != nullptr && *detail != '\0') message += ": " + std::string(detail);
  return Status::Internal(message);
}

Result<std::string> PublicKeyLine(ssh_key key) {
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  char* base64 = nullptr;
  if (type == nullptr || ssh_pki_export_pubkey_base64(key, &base64) != SSH_OK || base64 == nullptr) {
    return Status::InvalidArgument("a public key libssh cannot export");
  }
  std::string line = std::string(type) + " " + base64;
  ssh_string_free_char(base64);
  return line;
}

}  // namespace pushgate
