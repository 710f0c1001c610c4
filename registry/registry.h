// The standalone registry: users, their public keys and apps with members,
// kept in the same LMDB environment as the key cache (cache/cache.h), so that
// pushgate-keys reads standalone keys exactly as it reads controller keys.
//
// Every mutating call is one write transaction: it applies completely or not
// at all. Names are validated here (util/names.h) whatever the caller did.
#ifndef PUSHGATE_REGISTRY_REGISTRY_H_
#define PUSHGATE_REGISTRY_REGISTRY_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache.h"
#include "sshkey/sshkey.h"
#include "util/status.h"

namespace pushgate {

struct AppInfo {
  std::string name;
  std::vector<std::string> members;  // sorted
};

struct StoredKey {
  std::string fingerprint;
  KeyRecord record;
};

// A deploy key of an app, with its key record.
struct StoredDeployKey {
  DeployKeyEntry entry;
  KeyRecord record;
};

// A trusted user CA key: certificates it signs log in (sshcert/).
struct TrustedCa {
  std::string fingerprint;
  std::string key_line;  // "TYPE BASE64 COMMENT"
};

// A certificate principal that logs in as `user`.
struct PrincipalMapping {
  std::string principal;
  std::string user;
};

class Registry;

// Adds many keys for one user in a single transaction (an authorized_keys
// migration of a million keys is one import). Nothing is visible until Commit;
// destroying an uncommitted import discards it.
class KeyImport {
 public:
  // Adds `key`; AlreadyExists if it belongs to another user. A key already
  // registered to this user is left as is and counted as unchanged.
  Status Add(const PublicKey& key);
  Status Commit();
  size_t added() const { return added_; }
  size_t unchanged() const { return unchanged_; }

 private:
  friend class Registry;
  KeyImport(KeyCache* cache, lmdb::Txn txn, std::string user, int64_t now)
      : cache_(cache), txn_(std::move(txn)), user_(std::move(user)), now_(now) {}

  KeyCache* cache_;
  lmdb::Txn txn_;
  std::string user_;
  int64_t now_;
  size_t added_ = 0;
  size_t unchanged_ = 0;
};

class Registry {
 public:
  // `db_dir` is Config::dirs().Db(). Read-only opens never create anything.
  static Result<std::unique_ptr<Registry>> Open(const std::string& db_dir, KeyCache::Access access);

  Status AddUser(std::string_view user);
  // Removes the user, their keys and their app memberships.
  Status RemoveUser(std::string_view user);
  Result<std::vector<std::string>> ListUsers() const;

  Result<KeyImport> BeginKeyImport(std::string_view user);
  Status RemoveKey(std::string_view fingerprint);
  // All keys, or one user's; sorted by user, then fingerprint.
  Result<std::vector<StoredKey>> ListKeys(std::optional<std::string_view> user) const;

  Status CreateApp(std::string_view app, const std::vector<std::string>& members);
  Status RemoveApp(std::string_view app);
  Result<std::vector<AppInfo>> ListApps() const;
  // Both are idempotent: true if the membership changed, false if it was
  // already so. The app and the user must exist either way.
  Result<bool> Grant(std::string_view app, std::string_view user);
  Result<bool> Revoke(std::string_view app, std::string_view user);

  // Deploy keys: a key bound to one app rather than to a user, fetch only
  // unless `push`. Adding refuses a name the app already uses and a key
  // registered anywhere else; removing the app removes its deploy keys.
  Status AddDeployKey(std::string_view app, std::string_view name, const PublicKey& key, bool push);
  Status RemoveDeployKey(std::string_view app, std::string_view name);
  Result<std::vector<StoredDeployKey>> ListDeployKeys(std::string_view app) const;  // by name
  // nullopt if the app has no deploy key of that name (or no longer exists).
  Result<std::optional<DeployKeyEntry>> FindDeployKey(std::string_view app, std::string_view name) const;

  // SSH user certificates: CA keys whose certificates are trusted, and the
  // principals that name users. A principal equal to a user's name needs no
  // mapping; an explicit mapping may not use another user's name, and a
  // user may not be added under a name that is mapped to someone else.
  Status AddCaKey(const PublicKey& key);
  Status RemoveCaKey(std::string_view fingerprint);
  Result<std::vector<TrustedCa>> ListCaKeys() const;  // by fingerprint
  Status AddPrincipal(std::string_view user, std::string_view principal);
  Status RemovePrincipal(std::string_view user, std::string_view principal);
  // All mappings, or one user's; by principal.
  Result<std::vector<PrincipalMapping>> ListPrincipals(std::optional<std::string_view> user) const;

  // The apps `user` is a member of, sorted.
  Result<std::vector<std::string>> AppsOf(std::string_view user) const;

  Result<bool> AppExists(std::string_view app) const;
  Result<bool> IsMember(std::string_view app, std::string_view user) const;

  // A consistent, compacted copy of the whole registry, taken while pushes
  // and other commands run.
  Status Backup(int fd) const { return cache_->CopyCompactTo(fd); }

  KeyCache& cache() { return *cache_; }

 private:
  explicit Registry(std::unique_ptr<KeyCache> cache) : cache_(std::move(cache)) {}
  Status RequireUser(const lmdb::Txn& txn, std::string_view user) const;
  Status RequireApp(const lmdb::Txn& txn, std::string_view app) const;

  std::unique_ptr<KeyCache> cache_;
};

}  // namespace pushgate

#endif  // PUSHGATE_REGISTRY_REGISTRY_H_
