#include "sshd-plugin/authorized_keys_line.h"

#include "util/names.h"

namespace pushgate {

Result<std::string> FormatAuthorizedKeysLine(const AuthorizedKeysLineParts& p) {
  if (!IsSafeAbsolutePath(p.shell_path)) return Status::InvalidArgument("unsafe shell path");
  if (!IsSafeAbsolutePath(p.config_path)) {
    return Status::InvalidArgument("the config path must be an absolute path of letters, digits and /._+-");
  }
  if (!IsValidKeyOwner(p.user)) return Status::InvalidArgument("invalid user name in key record");
  if (!IsValidSha256Fingerprint(p.fingerprint)) return Status::InvalidArgument("invalid fingerprint");
  if (!IsAllowedKeyType(p.key_type)) return Status::InvalidArgument("key type not allowed");
  if (!IsBase64Blob(p.key_blob)) return Status::InvalidArgument("invalid key blob");

  std::string line;
  line.reserve(64 + p.shell_path.size() + p.config_path.size() + p.user.size() + p.fingerprint.size() +
               p.key_type.size() + p.key_blob.size());
  line += "command=\"";
  line += p.shell_path;
  line += " --config ";
  line += p.config_path;
  line += " --user ";
  line += p.user;
  line += " --key ";
  line += p.fingerprint;
  line += "\",restrict ";
  line += p.key_type;
  line += ' ';
  line += p.key_blob;
  line += '\n';
  return line;
}

}  // namespace pushgate
