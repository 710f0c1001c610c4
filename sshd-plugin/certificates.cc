#include "sshd-plugin/certificates.h"

#include <unistd.h>

#include <ctime>
#include <memory>
#include <optional>
#include <vector>

#include "cache/cache.h"
#include "program/startup.h"
#include "sshd-plugin/authorized_keys_line.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/names.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

constexpr size_t kMaxKrlBytes = 64 << 20;

CertificateLogin Refuse(std::string why) { return CertificateLogin{"", "", std::move(why)}; }

// The KRL, or nullopt if the operator has none.
Result<std::optional<RevocationList>> ReadRevocationList(const Config& config) {
  std::string path = config.dirs().RevokedKeys();
  Result<std::string> data = ReadSmallFile(path, kMaxKrlBytes);
  if (data.status().IsNotFound()) return std::optional<RevocationList>();
  if (!data.ok()) return data.status().Annotate("read the certificate revocation list");
  Result<RevocationList> krl = RevocationList::Parse(*data);
  if (!krl.ok()) return krl.status().Annotate(path);
  return std::optional<RevocationList>(std::move(*krl));
}

// Whether the stored CA line ("TYPE BASE64 COMMENT") holds exactly `blob`.
bool SameKey(std::string_view line, std::string_view blob) {
  size_t start = line.find(' ');
  if (start == std::string_view::npos) return false;
  std::string_view rest = line.substr(start + 1);
  std::optional<std::string> stored = DecodeBase64(rest.substr(0, rest.find(' ')));
  return stored && *stored == blob;
}

}  // namespace

Result<CertificateLogin> AuthorizeCertificate(const Config& config, const CertificateQuery& query) {
  const Certificate& cert = query.cert;
  if (config.mode != Mode::kStandalone) {
    return Refuse("SSH certificates are a standalone-mode feature; in controller mode the platform keeps keys");
  }
  std::string refusal = CertificateRefusal(cert, query.now);
  if (!refusal.empty()) return Refuse(std::move(refusal));
  if (!IsValidSha256Fingerprint(query.ca_fingerprint)) return Refuse("the CA fingerprint is malformed");

  Result<std::unique_ptr<KeyCache>> opened = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadOnly);
  if (opened.status().IsNotFound()) return Refuse("no CA is trusted (pushgate ca add)");
  if (!opened.ok()) return opened.status();
  const KeyCache& cache = **opened;
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginRead());
  PG_ASSIGN_OR_RETURN(std::optional<std::string> ca, cache.GetMapping(txn, Mappings::kCaKeys, query.ca_fingerprint));
  if (!ca || !SameKey(*ca, cert.signature_key)) {
    return Refuse("its CA " + std::string(query.ca_fingerprint) + " is not trusted (pushgate ca ls)");
  }

  PG_ASSIGN_OR_RETURN(std::optional<RevocationList> krl, ReadRevocationList(config));
  if (krl && krl->Revokes(cert, query.plain_key_sha256)) {
    return Refuse("it is revoked by " + config.dirs().RevokedKeys());
  }

  CertificateLogin login;
  for (const std::string& principal : cert.principals) {
    if (!IsValidUserName(principal)) continue;
    PG_ASSIGN_OR_RETURN(std::optional<std::string> user, cache.GetMapping(txn, Mappings::kPrincipals, principal));
    if (!user) {
      PG_ASSIGN_OR_RETURN(bool is_user, cache.HasName(txn, Names::kUsers, principal));
      if (is_user) user = principal;
    }
    if (!user) continue;
    if (login.user.empty()) {
      login.user = *user;
      login.principal = principal;
    } else if (login.user != *user) {
      return Refuse("its principals name more than one user (" + login.user + " and " + *user + ")");
    }
  }
  if (login.user.empty()) return Refuse("none of its principals names a pushgate user");
  // RemoveUser drops a user's explicit mappings; checking again keeps a
  // registry edited by other means from logging in a user who is gone.
  PG_ASSIGN_OR_RETURN(bool exists, cache.HasName(txn, Names::kUsers, login.user));
  if (!exists) return Refuse("its principal " + login.principal + " names user " + login.user + ", who no longer exists");
  return login;
}

namespace {

int Fatal(const Status& status) {
  log::Error("refusing every certificate", {{"error", status.message()}});
  PrintError("pushgate-principals: " + status.message());
  return 1;
}

}  // namespace

int RunPrincipalsHelper(const std::string& config_path, const PrincipalsQuery& query) {
  Result<Started> started = StartProgram({"pushgate-principals", config_path, "", false});
  if (!started.ok()) return Fatal(started.status());
  const Config& config = started->config;
  if (query.login_user != config.git_user) return 0;
  Result<Certificate> cert = ParseCertificateBase64(query.certificate);
  std::optional<std::string> digest;
  if (IsValidSha256Fingerprint(query.key_fingerprint)) digest = DecodeBase64(query.key_fingerprint.substr(7));
  if (!cert.ok() || !digest) {
    log::Warn("refused a certificate sshd passed that pushgate cannot read",
              {{"key", query.key_fingerprint}, {"error", cert.ok() ? "bad fingerprint" : cert.status().message()}});
    return 0;
  }
  Result<CertificateLogin> login = AuthorizeCertificate(
      config, {*cert, query.ca_fingerprint, *digest, static_cast<uint64_t>(::time(nullptr))});
  if (!login.ok()) return Fatal(login.status().Annotate("certificate check failed; refusing " + cert->key_id));
  if (login->user.empty()) {
    log::Warn("refused a certificate: " + login->refusal,
              {{"key", query.key_fingerprint}, {"key_id", Printable(cert->key_id, 200)}, {"ca", query.ca_fingerprint}});
    return 0;
  }
  Result<std::string> line = FormatAuthorizedPrincipalsLine(
      {started->libexec_dir + "/pushgate-shell", config.path, login->user, query.key_fingerprint, query.ca_fingerprint,
       login->principal});
  if (!line.ok()) return Fatal(line.status());
  return WriteAll(STDOUT_FILENO, *line).ok() ? 0 : 1;
}

}  // namespace pushgate
