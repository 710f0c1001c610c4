#include "sshd-plugin/authorized_keys_line.h"

#include "util/names.h"

namespace pushgate {
namespace {

// command="SHELL --config CONFIG --user USER --key FINGERPRINT",restrict
Result<std::string> ForcedCommandOptions(std::string_view shell_path, std::string_view config_path,
                                         std::string_view user, std::string_view fingerprint,
                                         std::string_view ca_fingerprint, size_t reserve) {
  if (!IsSafeAbsolutePath(shell_path)) return Status::InvalidArgument("unsafe shell path");
  if (!IsSafeAbsolutePath(config_path)) {
    return Status::InvalidArgument("the config path must be an absolute path of letters, digits and /._+-");
  }
  if (!IsValidKeyOwner(user)) return Status::InvalidArgument("invalid user name in key record");
  if (!IsValidSha256Fingerprint(fingerprint)) return Status::InvalidArgument("invalid fingerprint");
  if (!ca_fingerprint.empty() && !IsValidSha256Fingerprint(ca_fingerprint)) {
    return Status::InvalidArgument("invalid CA fingerprint");
  }
  std::string line;
  line.reserve(64 + shell_path.size() + config_path.size() + user.size() + fingerprint.size() + reserve);
  line += "command=\"";
  line += shell_path;
  line += " --config ";
  line += config_path;
  line += " --user ";
  line += user;
  line += " --key ";
  line += fingerprint;
  if (!ca_fingerprint.empty()) {
    line += " --ca ";
    line += ca_fingerprint;
  }
  line += "\",restrict";
  return line;
}

}  // namespace

Result<std::string> FormatAuthorizedKeysLine(const AuthorizedKeysLineParts& p) {
  PG_ASSIGN_OR_RETURN(std::string line, ForcedCommandOptions(p.shell_path, p.config_path, p.user, p.fingerprint, "",
                                                             p.key_type.size() + p.key_blob.size()));
  if (!IsAllowedKeyType(p.key_type)) return Status::InvalidArgument("key type not allowed");
  if (!IsBase64Blob(p.key_blob)) return Status::InvalidArgument("invalid key blob");
  line += ' ';
  line += p.key_type;
  line += ' ';
  line += p.key_blob;
  line += '\n';
  return line;
}

Result<std::string> FormatAuthorizedPrincipalsLine(const AuthorizedPrincipalsLineParts& p) {
  PG_ASSIGN_OR_RETURN(std::string line,
                      ForcedCommandOptions(p.shell_path, p.config_path, p.user, p.fingerprint, p.ca_fingerprint,
                                           p.principal.size()));
  // A certificate's line always names its CA, so the session can check
  // that the CA is still trusted.
  if (p.ca_fingerprint.empty()) return Status::InvalidArgument("a principals line needs the CA fingerprint");
  // sshd reads the principal as one word after the options.
  if (!IsValidUserName(p.principal)) return Status::InvalidArgument("invalid principal");
  line += ' ';
  line += p.principal;
  line += '\n';
  return line;
}

}  // namespace pushgate
