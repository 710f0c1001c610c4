#include "ssh-server/host_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>



namespace pushgate {
namespace {

ssh_keytypes_e TypeForName(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.find("ecdsa") != std::string::npos) return SSH_KEYTYPE_ECDSA_P256;
  if (name.find("rsa") != std::string::npos) return SSH_KEYTYPE_RSA;
  return SSH_KEYTYPE_ED25519;
}

// Written under a temporary name with mode 0600 and renamed into place, so
// a crash never leaves a half-written or readable key under the real name.
Status CreateKey(const std::string& path) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + dir);
  ssh_keytypes_e type = TypeForName(path);
  ssh_key raw = nullptr;
  if (ssh_pki_generate(type, type == SSH_KEYTYPE_RSA ? 3072 : 0, &raw) != SSH_OK || raw == nullptr) {
    return Status::Internal("cannot generate a host key for " + path);
  }
  SshKey key(raw);
  std::string tmp = path + ".new." + std::to_string(::getpid());
  mode_t old_mask = ::umask(077);
  int rc = ssh_pki_export_privkey_file(key.get(), nullptr, nullptr, nullptr, tmp.c_str());
  ::umask(old_mask);
  if (rc != SSH_OK) {
    (void)::unlink(tmp.c_str());
    return Status::IOError("cannot write host key " + tmp);
  }
  if (::chmod(tmp.c_str(), 0600) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Status error = Status::FromErrno(errno, "install host key " + path);
    (void)::unlink(tmp.c_str());
    return error;
  }
  return Status::OK();
}

Result<HostKey> LoadKey(const std::string& path, bool created) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat host key " + path);
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied("host key " + path + " can be read by group or others; chmod 600 it");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK || raw == nullptr) {
    return Status::InvalidArgument("host key " + path +
                                   " is not a private key libssh can read (an OpenSSH key without a passphrase)");
  }
  HostKey host;
  host.path = path;
  host.key.reset(raw);
  host.created = created;
  const char* type = ssh_key_type_to_char(ssh_key_type(raw));
  host.type = type == nullptr ? "unknown" : type;
  unsigned char* hash = nullptr;
  size_t hash_length = 0;
  if (ssh_get_publickey_hash(raw, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) == SSH_OK) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length);
    if (text != nullptr) host.fingerprint = text;
    ssh_string_free_char(text);
    ssh_clean_pubkey_hash(&hash);
  }
  return host;
}

}  // namespace

Result<std::vector<HostKey>> LoadOrCreateHostKeys(const std::vector<std::string>& paths) {
  std::vector<HostKey> keys;
  for (const std::string& path : paths) {
    bool created = false;
    if (::access(path.c_str(), F_OK) != 0) {
      if (errno != ENOENT) return Status::FromErrno(errno, "access host key " + path);
      PG_RETURN_IF_ERROR(CreateKey(path));
      created = true;
    }
    PG_ASSIGN_OR_RETURN(HostKey key, LoadKey(path, created));
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace pushgate
