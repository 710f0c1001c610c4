// pushgate-keys: the OpenSSH AuthorizedKeysCommand.
//
// sshd runs it (twice per connection: once to test the offered key, once to
// verify the signature) as `pushgate-keys --config F %u %f %t %k`. It prints
// one authorized_keys line for a known key and nothing otherwise.
//
// This is the hottest code in pushgate. It reads the LMDB key cache in one
// read transaction, makes no network calls and writes nothing, and links
// neither libcurl, libgit2 nor libssh (tests/build checks enforce this).
//
// Controller mode adds freshness rules (docs/configuration.md, [cache]):
// a fresh hit is answered at once; a stale hit or a miss runs pushgate-sync
// (the network lives there) for at most cache.sync_deadline and answers from
// the cache afterwards. If the controller cannot be reached, cached keys
// keep working until their data is older than cache.max_staleness; unknown
// keys are denied. A miss shortly after the controller last answered is
// denied without asking again (cache.negative_ttl), so a key-scanning client
// cannot turn connections into controller requests.
#ifndef PUSHGATE_SSHD_PLUGIN_KEYS_H_
#define PUSHGATE_SSHD_PLUGIN_KEYS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache.h"
#include "config/config.h"
#include "util/status.h"

namespace pushgate {

struct KeysQuery {
  std::string_view login_user;   // %u
  std::string_view fingerprint;  // %f, "SHA256:..."
  std::string_view key_type;     // %t
  std::string_view key_blob;     // %k
};

struct KeysContext {
  int64_t now_ms = 0;
  // Controller mode: runs one sync for the offered key, waiting at most the
  // sync deadline; true if it finished and the controller answered.
  std::function<bool()> sync;
  // Set by AnswerKeysQuery: why it went to the controller, if it did (for
  // the metrics of the slow paths; the hit path counts nothing).
  enum class Refresh { kNone, kMiss, kStale } refresh = Refresh::kNone;
  // Set by AnswerKeysQuery when it denies a key for a reason worth a log
  // line (an RSA key below keys.min_rsa_bits).
  std::string denied_because;
};

// The decision itself, shared by both front ends: the key's record if it
// may log in as `query.login_user`, nullopt to deny (for the reasons below).
// pushgate-sshd calls it in process once the client's signature verified.
Result<std::optional<KeyRecord>> FindAuthorizedKey(const Config& config, const KeysQuery& query,
                                                   KeysContext& context);

// Controller mode's network path: pushgate-sync, installed in `libexec_dir`,
// run for the offered key and waited for up to cache.sync_deadline. If it
// takes longer it is left to finish, so its answer is cached for the next
// lookup. True if it finished and the controller answered.
bool SyncOfferedKey(const Config& config, const std::string& libexec_dir, const KeysQuery& query);

// Counts a lookup's slow paths and denials (a hit is counted when its
// session starts, so the hit path writes nothing).
void CountKeyLookup(const Config& config, const KeysContext& context, bool denied);

// The authorized_keys line for `query`, or an empty string to deny (wrong
// login user, unknown key, key type or blob not matching the record, an RSA
// key shorter than keys.min_rsa_bits, even one stored before the limit). Errors
// (unreadable or corrupt cache) are returned as a Status; the caller denies.
Result<std::string> AnswerKeysQuery(const Config& config, std::string_view shell_path, const KeysQuery& query,
                                    KeysContext& context);

// The whole program: start up, answer `query` (in controller mode with
// pushgate-sync, installed beside this program, for the slow paths), print
// the line, count the slow paths. Exit status: 0 answered (a line or
// nothing), 1 error (logged, and written to stderr, which sshd puts in its
// own log next to "AuthorizedKeysCommand ... failed": the log destination
// itself may be what is broken; nothing is printed on stdout, so sshd denies).
int RunKeysHelper(const std::string& config_path, const KeysQuery& query);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_KEYS_H_
