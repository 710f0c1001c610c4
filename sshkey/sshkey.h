// Public SSH keys: parsing and validation with libssh, OpenSSH fingerprints.
//
// This is the only module that talks to libssh. Everything that enters the
// key cache (from the CLI, an authorized_keys file or, later, the controller)
// passes through ParsePublicKeyLine first, so the cache holds only keys that
// libssh parsed and re-encoded to exactly the bytes given.
#ifndef PUSHGATE_SSHKEY_SSHKEY_H_
#define PUSHGATE_SSHKEY_SSHKEY_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/line_reader.h"
#include "util/status.h"

namespace pushgate {

struct PublicKey {
  std::string type;                // "ssh-ed25519"
  std::string blob;                // base64 of the wire-format key, canonical
  std::string comment;             // may be empty
  std::string sha256_fingerprint;  // "SHA256:..." as ssh-keygen -lf and sshd's %f
  int rsa_bits = 0;                // RSA keys: the modulus size; 0 for other types
};

// InvalidArgument, with what to do instead, for an RSA key shorter than
// `min_rsa_bits` (keys.min_rsa_bits); OK for any other key.
Status CheckKeyStrength(const PublicKey& key, int min_rsa_bits);

// Parses "TYPE BASE64 [COMMENT]": one key, no authorized_keys options. The
// type must be on the allowlist (util/names.h) and match the type encoded in
// the blob; the blob must decode and re-encode to itself. The comment is kept
// (printable characters only, at most 1 KiB). Errors say what is wrong.
Result<PublicKey> ParsePublicKeyLine(std::string_view line);

// The key's MD5 fingerprint, "e4:1f:..." as the Workflow controller's API
// names keys. Computed on demand (one key lookup needs it), not by
// ParsePublicKeyLine: a million-key sync would hash every key twice.
Result<std::string> Md5Fingerprint(const PublicKey& key);

// Parses many lines on all cores. errors[i] is OK exactly when keys[i] holds
// the parsed line i.
struct ParsedKeys {
  std::vector<PublicKey> keys;
  std::vector<Status> errors;
};
ParsedKeys ParsePublicKeyLines(const std::vector<std::string>& lines);

// Reads a list of keys, one per line, in bounded memory; blank lines and
// lines starting with '#' are skipped. Calls `on_key` for each key in input
// order (on the calling thread) and stops at the first error, which names the
// line number. Parsing runs on all cores, one batch ahead of `on_key`, so a
// million-key list loads in seconds. Returns the number of keys read.
Result<size_t> ReadPublicKeyList(LineReader& lines, const std::function<Status(PublicKey&&)>& on_key);

}  // namespace pushgate

#endif  // PUSHGATE_SSHKEY_SSHKEY_H_
