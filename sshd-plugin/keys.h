// pushgate-keys: the OpenSSH AuthorizedKeysCommand.
//
// sshd runs it (twice per connection: once to test the offered key, once to
// verify the signature) as `pushgate-keys --config F %u %f %t %k`. It prints
// one authorized_keys line for a known key and nothing otherwise.
//
// This is the hottest code in pushgate. It reads the LMDB key cache in one
// read transaction, makes no network calls and writes nothing, and links
// neither libcurl, libgit2 nor libssh (tests/build checks enforce this).
#ifndef PUSHGATE_SSHD_PLUGIN_KEYS_H_
#define PUSHGATE_SSHD_PLUGIN_KEYS_H_

#include <string>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

struct KeysQuery {
  std::string_view login_user;   // %u
  std::string_view fingerprint;  // %f, "SHA256:..."
  std::string_view key_type;     // %t
  std::string_view key_blob;     // %k
};

// The authorized_keys line for `query`, or an empty string to deny (wrong
// login user, unknown key, key type or blob not matching the record). Errors
// (unreadable or corrupt cache) are returned as a Status; the caller denies.
Result<std::string> AnswerKeysQuery(const Config& config, std::string_view shell_path,
                                    const KeysQuery& query);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_KEYS_H_
