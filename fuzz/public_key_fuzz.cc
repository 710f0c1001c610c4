// Public key lines (libssh): an accepted key is canonical (parsing "TYPE BLOB"
// again gives the same key and fingerprint) and makes exactly one
// authorized_keys line whose only options are pushgate's.
#include <string>

#include "fuzz/fuzz_check.h"
#include "sshd-plugin/authorized_keys_line.h"
#include "sshkey/sshkey.h"
#include "util/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pushgate::Result<pushgate::PublicKey> key = pushgate::ParsePublicKeyLine(AsText(data, size));
  if (!key.ok()) return 0;
  FUZZ_CHECK(pushgate::IsAllowedKeyType(key->type), "accepted keys have an allowed type");
  FUZZ_CHECK(pushgate::IsBase64Blob(key->blob), "accepted keys have a base64 blob");
  FUZZ_CHECK(pushgate::IsValidSha256Fingerprint(key->sha256_fingerprint), "the fingerprint is well-formed");
  FUZZ_CHECK(key->comment.find_first_of("\n\r") == std::string::npos, "comments are one line");
  pushgate::Result<pushgate::PublicKey> again = pushgate::ParsePublicKeyLine(key->type + " " + key->blob);
  FUZZ_CHECK(again.ok(), "an accepted key parses again");
  FUZZ_CHECK(again->blob == key->blob && again->sha256_fingerprint == key->sha256_fingerprint,
             "parsing is canonical");
  const std::string shell = "/usr/libexec/pushgate/pushgate-shell", config = "/etc/pushgate/pushgate.toml";
  pushgate::Result<std::string> line = pushgate::FormatAuthorizedKeysLine(
      {shell, config, "alice", key->sha256_fingerprint, key->type, key->blob});
  FUZZ_CHECK(line.ok(), "every accepted key can be printed for sshd");
  std::string expected = "command=\"" + shell + " --config " + config + " --user alice --key " +
                         key->sha256_fingerprint + "\",restrict " + key->type + " " + key->blob + "\n";
  FUZZ_CHECK(*line == expected, "the line is exactly pushgate's options and the key");
  return 0;
}
