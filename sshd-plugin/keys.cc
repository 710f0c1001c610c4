#include "sshd-plugin/keys.h"

#include "cache/cache.h"
#include "sshd-plugin/authorized_keys_line.h"
#include "util/names.h"

namespace pushgate {

Result<std::string> AnswerKeysQuery(const Config& config, std::string_view shell_path,
                                    const KeysQuery& query) {
  if (query.login_user != config.git_user) return std::string();
  // Malformed input from sshd is impossible in practice; refusing it before
  // touching the cache keeps the lookup key well-formed.
  if (!IsValidSha256Fingerprint(query.fingerprint) || !IsAllowedKeyType(query.key_type) ||
      !IsBase64Blob(query.key_blob)) {
    return std::string();
  }
  Result<std::unique_ptr<KeyCache>> cache = KeyCache::Open(config.DbDir(), KeyCache::Access::kReadOnly);
  if (!cache.ok()) {
    if (cache.status().IsNotFound()) return std::string();  // nothing registered yet
    return cache.status();
  }
  PG_ASSIGN_OR_RETURN(KeyLookup lookup, (*cache)->Lookup(query.fingerprint));
  const std::optional<KeyRecord>& record = lookup.record;
  if (!record) return std::string();
  // The fingerprint is a hash of the blob; comparing the stored type and blob
  // byte for byte as well means a colliding or tampered record never matches.
  if (record->type != query.key_type || record->blob != query.key_blob) return std::string();
  return FormatAuthorizedKeysLine({shell_path, config.path, record->user, query.fingerprint,
                                   record->type, record->blob});
}

}  // namespace pushgate
