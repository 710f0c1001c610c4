#include "sshkey/sshkey.h"

#include <libssh/libssh.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "util/names.h"
#include "util/rsa_bits.h"
#include "util/shared_library.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

// libssh is loaded when the first key is parsed (util/shared_library.h):
// pushgate-shell and pushgate-hook link this module for controller mode's
// key comparison, and libssh with the Kerberos libraries it pulls in would
// otherwise cost every push's start-up. The soname is libssh's ABI.
constexpr char kLibsshSoname[] = "libssh.so.4";

// The libssh functions this adapter calls, resolved once.
struct Libssh {
  decltype(&ssh_key_free) key_free = nullptr;
  decltype(&ssh_string_free_char) string_free_char = nullptr;
  decltype(&ssh_clean_pubkey_hash) clean_pubkey_hash = nullptr;
  decltype(&ssh_key_type) key_type = nullptr;
  decltype(&ssh_pki_key_ecdsa_name) pki_key_ecdsa_name = nullptr;
  decltype(&ssh_key_type_to_char) key_type_to_char = nullptr;
  decltype(&ssh_get_publickey_hash) get_publickey_hash = nullptr;
  decltype(&ssh_get_hexa) get_hexa = nullptr;
  decltype(&ssh_get_fingerprint_hash) get_fingerprint_hash = nullptr;
  decltype(&ssh_key_type_from_name) key_type_from_name = nullptr;
  decltype(&ssh_pki_import_pubkey_base64) pki_import_pubkey_base64 = nullptr;
  decltype(&ssh_pki_export_pubkey_base64) pki_export_pubkey_base64 = nullptr;
  Status status = Status::OK();  // why the library cannot be used, if it cannot
};

Status ResolveLibssh(Libssh* lib) {
  PG_ASSIGN_OR_RETURN(SharedLibrary so, SharedLibrary::Open(kLibsshSoname, "reading SSH public keys (libssh-4)"));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_key_free", &lib->key_free));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_string_free_char", &lib->string_free_char));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_clean_pubkey_hash", &lib->clean_pubkey_hash));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_key_type", &lib->key_type));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_pki_key_ecdsa_name", &lib->pki_key_ecdsa_name));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_key_type_to_char", &lib->key_type_to_char));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_get_publickey_hash", &lib->get_publickey_hash));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_get_hexa", &lib->get_hexa));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_get_fingerprint_hash", &lib->get_fingerprint_hash));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_key_type_from_name", &lib->key_type_from_name));
  PG_RETURN_IF_ERROR(so.Resolve("ssh_pki_import_pubkey_base64", &lib->pki_import_pubkey_base64));
  return so.Resolve("ssh_pki_export_pubkey_base64", &lib->pki_export_pubkey_base64);
}

// The loaded library; every function below runs after ParsePublicKeyLine
// checked that it loaded.
const Libssh& Ssh() { return ResolvedOnce<Libssh, ResolveLibssh>(); }

struct KeyDeleter {
  void operator()(ssh_key key) const { Ssh().key_free(key); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

// libssh's reading of a "TYPE BASE64" pair; errors say what to fix.
Result<KeyPtr> ImportKey(const std::string& type, const std::string& blob) {
  PG_RETURN_IF_ERROR(Ssh().status);
  enum ssh_keytypes_e declared = Ssh().key_type_from_name(type.c_str());
  if (declared == SSH_KEYTYPE_UNKNOWN) return Status::InvalidArgument("unsupported key type " + type);
  ssh_key raw = nullptr;
  if (Ssh().pki_import_pubkey_base64(blob.c_str(), declared, &raw) != SSH_OK || raw == nullptr) {
    return Status::InvalidArgument("the " + type + " key data does not decode to a valid key");
  }
  return KeyPtr(raw);
}

struct StringDeleter {
  void operator()(char* s) const { Ssh().string_free_char(s); }
};
using SshString = std::unique_ptr<char, StringDeleter>;

struct HashDeleter {
  void operator()(unsigned char* h) const { Ssh().clean_pubkey_hash(&h); }
};
using HashPtr = std::unique_ptr<unsigned char, HashDeleter>;

constexpr size_t kMaxCommentBytes = 1024;

// The algorithm name libssh reports for a parsed key.
std::string_view ParsedTypeName(ssh_key key) {
  enum ssh_keytypes_e t = Ssh().key_type(key);
  if (t == SSH_KEYTYPE_ECDSA_P256 || t == SSH_KEYTYPE_ECDSA_P384 || t == SSH_KEYTYPE_ECDSA_P521) {
    const char* name = Ssh().pki_key_ecdsa_name(key);
    return name != nullptr ? name : "";
  }
  const char* name = Ssh().key_type_to_char(t);
  return name != nullptr ? name : "";
}

Result<std::string> Fingerprint(ssh_key key, enum ssh_publickey_hash_type type) {
  unsigned char* raw = nullptr;
  size_t len = 0;
  if (Ssh().get_publickey_hash(key, type, &raw, &len) != SSH_OK) {
    return Status::Internal("libssh could not hash the key");
  }
  HashPtr hash(raw);
  SshString text(type == SSH_PUBLICKEY_HASH_MD5 ? Ssh().get_hexa(hash.get(), len)
                                                : Ssh().get_fingerprint_hash(type, hash.get(), len));
  if (!text) return Status::ResourceExhausted("libssh could not format the fingerprint");
  return std::string(text.get());
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string Shorten(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (s.size() > 40) out += "...";
  return out;
}

}  // namespace

Result<PublicKey> ParsePublicKeyLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
  for (char c : line) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) {
      return Status::InvalidArgument("the key line contains a control character (newline, NUL, ...)");
    }
  }
  std::string_view rest = line;
  std::string_view type = NextKeyLineField(rest);
  if (type.empty()) return Status::InvalidArgument("empty key line");
  if (line.starts_with("-----BEGIN") && line.find("PRIVATE KEY") != std::string_view::npos) {
    return Status::InvalidArgument("this is a private key; give the .pub file (such as ~/.ssh/id_ed25519.pub) "
                                   "and keep the private key to yourself");
  }
  if (line.starts_with("---- BEGIN SSH2 PUBLIC KEY")) {
    return Status::InvalidArgument("this is an RFC 4716 (SSH2) public key; convert it with "
                                   "`ssh-keygen -i -f FILE` and give that");
  }
  if (!IsAllowedKeyType(type)) {
    if (type.find('=') != std::string_view::npos || type.find('"') != std::string_view::npos ||
        type.find(',') != std::string_view::npos) {
      return Status::InvalidArgument("authorized_keys options are not accepted (found \"" + Shorten(type) +
                                     "\"); give the key alone: TYPE BASE64 [COMMENT]");
    }
    return Status::InvalidArgument("unsupported key type \"" + Shorten(type) +
                                   "\"; use ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or a "
                                   "security key type");
  }
  std::string_view blob = NextKeyLineField(rest);
  if (blob.empty()) return Status::InvalidArgument("the key has no base64 data after \"" + std::string(type) + "\"");
  if (!IsBase64Blob(blob)) return Status::InvalidArgument("the key data is not valid base64");

  while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && IsBlank(rest.back())) rest.remove_suffix(1);
  if (rest.size() > kMaxCommentBytes) {
    return Status::InvalidArgument("the key comment is longer than 1024 bytes");
  }

  std::string blob_str(blob);
  PG_ASSIGN_OR_RETURN(KeyPtr key, ImportKey(std::string(type), blob_str));
  if (ParsedTypeName(key.get()) != type) {
    return Status::InvalidArgument("the key data is a " + std::string(ParsedTypeName(key.get())) +
                                   " key, not " + std::string(type));
  }
  // Re-encoding must give back exactly the input: no trailing bytes, no
  // non-canonical encoding, and the embedded type name matches.
  char* exported_raw = nullptr;
  if (Ssh().pki_export_pubkey_base64(key.get(), &exported_raw) != SSH_OK || exported_raw == nullptr) {
    return Status::InvalidArgument("the key data could not be re-encoded");
  }
  SshString exported(exported_raw);
  if (blob != exported.get()) {
    return Status::InvalidArgument("the key data is not in canonical form (extra or altered bytes)");
  }

  PublicKey out;
  out.type = std::string(type);
  out.blob = std::move(blob_str);
  out.comment = std::string(rest);
  // The same reading of the blob as the keys helper's, which has no libssh.
  if (out.type == "ssh-rsa") out.rsa_bits = RsaModulusBits(out.blob);
  PG_ASSIGN_OR_RETURN(out.sha256_fingerprint, Fingerprint(key.get(), SSH_PUBLICKEY_HASH_SHA256));
  if (!IsValidSha256Fingerprint(out.sha256_fingerprint)) {
    return Status::Internal("libssh produced an unexpected fingerprint " + out.sha256_fingerprint);
  }
  return out;
}

Result<std::string> Md5Fingerprint(const PublicKey& key) {
  PG_ASSIGN_OR_RETURN(KeyPtr imported, ImportKey(key.type, key.blob));
  return Fingerprint(imported.get(), SSH_PUBLICKEY_HASH_MD5);
}

Status CheckKeyStrength(const PublicKey& key, int min_rsa_bits) {
  if (key.type != "ssh-rsa" || key.rsa_bits >= min_rsa_bits) return Status::OK();
  return Status::InvalidArgument("this RSA key has " + std::to_string(key.rsa_bits) +
                                 " bits; RSA keys need at least " + std::to_string(min_rsa_bits) +
                                 " (keys.min_rsa_bits): make a new key with ssh-keygen -t ed25519");
}

namespace {

constexpr size_t kBatchLines = 4096;

// Up to kBatchLines key lines with their line numbers, and what parsing
// them gave.
struct Batch {
  std::vector<std::string> lines;
  std::vector<size_t> line_numbers;
  ParsedKeys parsed;
};

Result<Batch> ReadBatch(LineReader& lines) {
  Batch batch;
  std::string_view line;
  while (batch.lines.size() < kBatchLines) {
    PG_ASSIGN_OR_RETURN(bool more, lines.Next(line));
    if (!more) break;
    std::string_view trimmed = line;
    while (!trimmed.empty() && (IsBlank(trimmed.front()) || trimmed.front() == '\r')) trimmed.remove_prefix(1);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    batch.lines.emplace_back(line);
    batch.line_numbers.push_back(lines.line_number());
  }
  return batch;
}

void ParseRange(const std::vector<std::string>& lines, ParsedKeys& out, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    Result<PublicKey> key = ParsePublicKeyLine(lines[i]);
    if (key.ok()) {
      out.keys[i] = std::move(key).value();
    } else {
      out.errors[i] = key.status();
    }
  }
}

}  // namespace

ParsedKeys ParsePublicKeyLines(const std::vector<std::string>& lines) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  size_t n = lines.size();
  ParsedKeys out;
  out.keys.resize(n);
  out.errors.resize(n);
  std::vector<std::thread> workers;
  size_t per_thread = (n + threads - 1) / threads;
  for (unsigned t = 1; t < threads && t * per_thread < n; ++t) {
    workers.emplace_back(ParseRange, std::cref(lines), std::ref(out), t * per_thread,
                         std::min(n, (t + 1) * per_thread));
  }
  ParseRange(lines, out, 0, std::min(n, per_thread));
  for (std::thread& w : workers) w.join();
  return out;
}

Result<size_t> ReadPublicKeyList(LineReader& lines, const std::function<Status(PublicKey&&)>& on_key) {
  size_t count = 0;
  PG_ASSIGN_OR_RETURN(Batch current, ReadBatch(lines));
  current.parsed = ParsePublicKeyLines(current.lines);
  while (!current.lines.empty()) {
    // Read and parse the next batch while this one is handed to on_key.
    PG_ASSIGN_OR_RETURN(Batch next, ReadBatch(lines));
    std::thread parser([&next] { next.parsed = ParsePublicKeyLines(next.lines); });
    Status status;
    for (size_t i = 0; i < current.lines.size() && status.ok(); ++i) {
      status = current.parsed.errors[i].ok() ? on_key(std::move(current.parsed.keys[i])) : current.parsed.errors[i];
      if (status.ok()) {
        ++count;
      } else {
        status = status.Annotate("line " + std::to_string(current.line_numbers[i]));
      }
    }
    parser.join();
    if (!status.ok()) return status;
    current = std::move(next);
  }
  return count;
}

}  // namespace pushgate
