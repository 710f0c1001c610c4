#include "sshd-plugin/keys.h"

#include "cache/cache.h"
#include "sshd-plugin/authorized_keys_line.h"
#include "util/names.h"
#include "util/rsa_bits.h"

namespace pushgate {
namespace {

// The cache as one read transaction sees it; a cache that does not exist
// yet (controller mode before the first sync) reads as empty.
Result<KeyLookup> ReadCache(const Config& config, std::string_view fingerprint) {
  Result<std::unique_ptr<KeyCache>> cache = KeyCache::Open(config.dirs().Db(), KeyCache::Access::kReadOnly);
  if (!cache.ok()) {
    if (cache.status().IsNotFound()) return KeyLookup();
    return cache.status();
  }
  return (*cache)->Lookup(fingerprint);
}

// The fingerprint is a hash of the blob; comparing the stored type and blob
// byte for byte as well means a colliding or tampered record never matches.
bool Matches(const KeyLookup& lookup, const KeysQuery& query) {
  return lookup.record && lookup.record->type == query.key_type && lookup.record->blob == query.key_blob;
}

// How old the cache's knowledge of this key is, in ms.
int64_t Age(const KeyLookup& lookup, int64_t now_ms) {
  int64_t as_of = lookup.feed == "lookup" ? lookup.record->verified_at_ms : lookup.synced_at_ms;
  return now_ms - as_of;
}

}  // namespace

Result<std::optional<KeyRecord>> FindAuthorizedKey(const Config& config, const KeysQuery& query,
                                                   KeysContext& context) {
  const std::optional<KeyRecord> kDeny;
  if (query.login_user != config.git_user) return kDeny;
  // Malformed input from sshd is impossible in practice; refusing it before
  // touching the cache keeps the lookup key well-formed.
  if (!IsValidSha256Fingerprint(query.fingerprint) || !IsAllowedKeyType(query.key_type) ||
      !IsBase64Blob(query.key_blob)) {
    return kDeny;
  }
  // Before the cache or the controller: a short key never costs a lookup.
  if (query.key_type == "ssh-rsa") {
    int bits = RsaModulusBits(query.key_blob);
    if (bits < config.keys.min_rsa_bits) {
      context.denied_because = "an RSA key of " + std::to_string(bits) + " bits, below keys.min_rsa_bits (" +
                               std::to_string(config.keys.min_rsa_bits) + ")";
      return kDeny;
    }
  }
  PG_ASSIGN_OR_RETURN(KeyLookup lookup, ReadCache(config, query.fingerprint));
  bool hit = Matches(lookup, query);
  if (config.mode == Mode::kStandalone) {
    if (!hit) return kDeny;
    return lookup.record;
  }

  const CacheConfig& rules = config.cache;
  int64_t now = context.now_ms;
  if (hit) {
    Duration fresh_for = lookup.feed == "lookup" ? rules.positive_ttl : rules.refresh_after;
    if (Age(lookup, now) < fresh_for.count()) return lookup.record;
  } else {
    bool recently_answered = lookup.feed == "lookup"
                                 ? lookup.negative_until_ms > now
                                 : lookup.synced_at_ms > 0 && now - lookup.synced_at_ms < rules.negative_ttl.count();
    if (recently_answered) return kDeny;
  }

  context.refresh = hit ? KeysContext::Refresh::kStale : KeysContext::Refresh::kMiss;
  bool synced = context.sync && context.sync();
  PG_ASSIGN_OR_RETURN(lookup, ReadCache(config, query.fingerprint));
  if (!Matches(lookup, query)) return kDeny;
  // Without a fresh answer, cached keys carry on until they are too old.
  if (!synced && Age(lookup, now) >= rules.max_staleness.count()) return kDeny;
  return lookup.record;
}

Result<std::string> AnswerKeysQuery(const Config& config, std::string_view shell_path, const KeysQuery& query,
                                    KeysContext& context) {
  PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> record, FindAuthorizedKey(config, query, context));
  if (!record) return std::string();
  return FormatAuthorizedKeysLine({shell_path, config.path, record->user, query.fingerprint, record->type,
                                   record->blob});
}

}  // namespace pushgate
