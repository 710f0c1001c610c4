#include "registry/registry.h"

#include <ctime>

#include "util/names.h"

namespace pushgate {
namespace {

int64_t Now() { return static_cast<int64_t>(::time(nullptr)); }

Status CheckUserName(std::string_view user) {
  if (IsValidLocalUserName(user)) return Status::OK();
  return Status::InvalidArgument("\"" + std::string(user) +
                                 "\" is not a valid user name: use 1-64 lowercase letters, digits, "
                                 "'.', '_' or '-', starting with a letter or digit");
}

Status CheckAppName(std::string_view app) {
  if (IsValidAppName(app)) return Status::OK();
  return Status::InvalidArgument("\"" + std::string(app) +
                                 "\" is not a valid app name: use 1-63 lowercase letters, digits or "
                                 "'-', starting and ending with a letter or digit");
}

Status CheckDeployKeyName(std::string_view name) {
  if (IsValidDeployKeyName(name)) return Status::OK();
  return Status::InvalidArgument("\"" + std::string(name) +
                                 "\" is not a valid deploy key name: use 1-64 lowercase letters, digits, "
                                 "'.', '_' or '-', starting with a letter or digit");
}

Status CheckFingerprint(std::string_view fingerprint) {
  if (IsValidSha256Fingerprint(fingerprint)) return Status::OK();
  return Status::InvalidArgument("\"" + Printable(fingerprint, 100) +
                                 "\" is not a SHA256 fingerprint (SHA256:... as printed by ssh-keygen -lf)");
}

Status CheckPrincipal(std::string_view principal) {
  if (IsValidUserName(principal)) return Status::OK();
  return Status::InvalidArgument("\"" + Printable(principal, 160) +
                                 "\" is not a principal pushgate accepts: use 1-150 letters, digits, '@', '.', "
                                 "'+', '_' or '-', not starting with '-'");
}

// Who holds a key already, in an operator's words.
std::string DescribeOwner(std::string_view owner) {
  if (std::optional<DeployKeyId> id = ParseDeployKeyOwner(owner)) {
    return "deploy key " + std::string(id->name) + " of app " + std::string(id->app);
  }
  return "user " + std::string(owner);
}

}  // namespace

Status KeyImport::Add(const PublicKey& key) {
  KeyRecord record{user_, key.type, key.blob, key.comment, now_};
  PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> existing, cache_->InsertKey(txn_, key.sha256_fingerprint, record));
  if (!existing) {
    ++added_;
    return Status::OK();
  }
  if (existing->user != user_) {
    return Status::AlreadyExists("key " + key.sha256_fingerprint + " is already registered to " +
                                 DescribeOwner(existing->user));
  }
  ++unchanged_;
  return Status::OK();
}

Status KeyImport::Commit() { return txn_.Commit(); }

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& db_dir, KeyCache::Access access) {
  PG_ASSIGN_OR_RETURN(std::unique_ptr<KeyCache> cache, KeyCache::Open(db_dir, access));
  for (Table t : {Table::kUsers, Table::kApps, Table::kMembers}) {
    if (!cache->HasTable(t)) return Status::NotFound("the registry in " + db_dir + " has no users or apps yet");
  }
  return std::unique_ptr<Registry>(new Registry(std::move(cache)));
}

Status Registry::RequireUser(const lmdb::Txn& txn, std::string_view user) const {
  PG_RETURN_IF_ERROR(CheckUserName(user));
  PG_ASSIGN_OR_RETURN(bool found, cache_->HasName(txn, Names::kUsers, user));
  if (!found) return Status::NotFound("user " + std::string(user) + " does not exist");
  return Status::OK();
}

Status Registry::RequireApp(const lmdb::Txn& txn, std::string_view app) const {
  PG_RETURN_IF_ERROR(CheckAppName(app));
  PG_ASSIGN_OR_RETURN(bool found, cache_->HasName(txn, Names::kApps, app));
  if (!found) return Status::NotFound("app " + std::string(app) + " does not exist");
  return Status::OK();
}

Status Registry::AddUser(std::string_view user) {
  PG_RETURN_IF_ERROR(CheckUserName(user));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_ASSIGN_OR_RETURN(std::optional<std::string> mapped, cache_->GetMapping(txn, Mappings::kPrincipals, user));
  if (mapped) {
    return Status::AlreadyExists("\"" + std::string(user) + "\" is a certificate principal of user " + *mapped +
                                 "; remove it first (pushgate user principal rm " + *mapped + " " +
                                 std::string(user) + ") or choose another name");
  }
  PG_ASSIGN_OR_RETURN(bool added, cache_->AddName(txn, Names::kUsers, user, Now()));
  if (!added) return Status::AlreadyExists("user " + std::string(user) + " already exists");
  return txn.Commit();
}

Status Registry::RemoveUser(std::string_view user) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  PG_ASSIGN_OR_RETURN(std::vector<std::string> fingerprints, cache_->UserKeyFingerprints(txn, user));
  for (const std::string& fp : fingerprints) PG_RETURN_IF_ERROR(cache_->DeleteKey(txn, fp).status());
  PG_ASSIGN_OR_RETURN(std::vector<std::string> apps, cache_->ListNames(txn, Names::kApps));
  for (const std::string& app : apps) {
    PG_RETURN_IF_ERROR(cache_->RemoveMember(txn, app, user).status());
  }
  PG_ASSIGN_OR_RETURN(auto principals, cache_->ListMappings(txn, Mappings::kPrincipals));
  for (const auto& [principal, owner] : principals) {
    if (owner == user) PG_RETURN_IF_ERROR(cache_->DeleteMapping(txn, Mappings::kPrincipals, principal).status());
  }
  PG_RETURN_IF_ERROR(cache_->RemoveName(txn, Names::kUsers, user).status());
  return txn.Commit();
}

Result<std::vector<std::string>> Registry::ListUsers() const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  return cache_->ListNames(txn, Names::kUsers);
}

Result<KeyImport> Registry::BeginKeyImport(std::string_view user) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  return KeyImport(cache_.get(), std::move(txn), std::string(user), static_cast<int64_t>(::time(nullptr)));
}

Status Registry::RemoveKey(std::string_view fingerprint) {
  PG_RETURN_IF_ERROR(CheckFingerprint(fingerprint));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> record, cache_->GetKey(txn, fingerprint));
  if (!record) return Status::NotFound("no key with fingerprint " + std::string(fingerprint));
  if (std::optional<DeployKeyId> id = ParseDeployKeyOwner(record->user)) {
    return Status::InvalidArgument("key " + std::string(fingerprint) + " is " + DescribeOwner(record->user) +
                                   "; remove it with pushgate app key rm " + std::string(id->app) + " " +
                                   std::string(id->name));
  }
  PG_RETURN_IF_ERROR(cache_->DeleteKey(txn, fingerprint).status());
  return txn.Commit();
}

Result<std::vector<StoredKey>> Registry::ListKeys(std::optional<std::string_view> user) const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  std::vector<std::string> users;
  if (user) {
    PG_RETURN_IF_ERROR(RequireUser(txn, *user));
    users.emplace_back(*user);
  } else {
    PG_ASSIGN_OR_RETURN(users, cache_->ListNames(txn, Names::kUsers));
  }
  std::vector<StoredKey> out;
  for (const std::string& u : users) {
    PG_ASSIGN_OR_RETURN(std::vector<std::string> fingerprints, cache_->UserKeyFingerprints(txn, u));
    for (std::string& fp : fingerprints) {
      PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> record, cache_->GetKey(txn, fp));
      if (record) out.push_back(StoredKey{std::move(fp), std::move(*record)});
    }
  }
  return out;
}

Status Registry::CreateApp(std::string_view app, const std::vector<std::string>& members) {
  PG_RETURN_IF_ERROR(CheckAppName(app));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  for (const std::string& user : members) PG_RETURN_IF_ERROR(RequireUser(txn, user));
  PG_ASSIGN_OR_RETURN(bool added, cache_->AddName(txn, Names::kApps, app, Now()));
  if (!added) return Status::AlreadyExists("app " + std::string(app) + " already exists");
  for (const std::string& user : members) PG_RETURN_IF_ERROR(cache_->AddMember(txn, app, user).status());
  return txn.Commit();
}

Status Registry::RemoveApp(std::string_view app) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_ASSIGN_OR_RETURN(std::vector<std::string> members, cache_->Members(txn, app));
  for (const std::string& user : members) {
    PG_RETURN_IF_ERROR(cache_->RemoveMember(txn, app, user).status());
  }
  PG_ASSIGN_OR_RETURN(std::vector<DeployKeyEntry> deploy_keys, cache_->DeployKeys(txn, app));
  for (const DeployKeyEntry& entry : deploy_keys) {
    PG_RETURN_IF_ERROR(cache_->DeleteKey(txn, entry.fingerprint).status());
    PG_RETURN_IF_ERROR(cache_->DeleteDeployKey(txn, app, entry.name).status());
  }
  PG_RETURN_IF_ERROR(cache_->RemoveName(txn, Names::kApps, app).status());
  return txn.Commit();
}

Result<std::vector<AppInfo>> Registry::ListApps() const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  PG_ASSIGN_OR_RETURN(std::vector<std::string> names, cache_->ListNames(txn, Names::kApps));
  std::vector<AppInfo> out;
  for (std::string& name : names) {
    AppInfo info;
    PG_ASSIGN_OR_RETURN(info.members, cache_->Members(txn, name));
    info.name = std::move(name);
    out.push_back(std::move(info));
  }
  return out;
}

Result<bool> Registry::Grant(std::string_view app, std::string_view user) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  PG_ASSIGN_OR_RETURN(bool added, cache_->AddMember(txn, app, user));
  if (!added) return false;
  PG_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Result<bool> Registry::Revoke(std::string_view app, std::string_view user) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  PG_ASSIGN_OR_RETURN(bool existed, cache_->RemoveMember(txn, app, user));
  if (!existed) return false;
  PG_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Status Registry::AddDeployKey(std::string_view app, std::string_view name, const PublicKey& key, bool push) {
  PG_RETURN_IF_ERROR(CheckDeployKeyName(name));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_ASSIGN_OR_RETURN(bool added, cache_->PutDeployKey(txn, app, DeployKeyEntry{std::string(name), key.sha256_fingerprint, push}));
  if (!added) {
    return Status::AlreadyExists("app " + std::string(app) + " already has a deploy key named " + std::string(name) +
                                 "; remove it first (pushgate app key rm " + std::string(app) + " " +
                                 std::string(name) + ")");
  }
  KeyRecord record{DeployKeyOwner(app, name), key.type, key.blob, key.comment, Now()};
  PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> existing, cache_->InsertKey(txn, key.sha256_fingerprint, record));
  if (existing) {
    return Status::AlreadyExists("key " + key.sha256_fingerprint + " is already registered to " +
                                 DescribeOwner(existing->user) + "; a deploy key needs a key of its own");
  }
  return txn.Commit();
}

Status Registry::RemoveDeployKey(std::string_view app, std::string_view name) {
  PG_RETURN_IF_ERROR(CheckDeployKeyName(name));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_ASSIGN_OR_RETURN(std::optional<DeployKeyEntry> entry, cache_->GetDeployKey(txn, app, name));
  if (!entry) return Status::NotFound("app " + std::string(app) + " has no deploy key named " + std::string(name));
  PG_RETURN_IF_ERROR(cache_->DeleteKey(txn, entry->fingerprint).status());
  PG_RETURN_IF_ERROR(cache_->DeleteDeployKey(txn, app, name).status());
  return txn.Commit();
}

Result<std::vector<StoredDeployKey>> Registry::ListDeployKeys(std::string_view app) const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  PG_RETURN_IF_ERROR(RequireApp(txn, app));
  PG_ASSIGN_OR_RETURN(std::vector<DeployKeyEntry> entries, cache_->DeployKeys(txn, app));
  std::vector<StoredDeployKey> out;
  for (DeployKeyEntry& entry : entries) {
    PG_ASSIGN_OR_RETURN(std::optional<KeyRecord> record, cache_->GetKey(txn, entry.fingerprint));
    if (!record) return Status::Corruption("deploy key " + entry.name + " of " + std::string(app) + " has no key record");
    out.push_back(StoredDeployKey{std::move(entry), std::move(*record)});
  }
  return out;
}

Result<std::optional<DeployKeyEntry>> Registry::FindDeployKey(std::string_view app, std::string_view name) const {
  if (!IsValidAppName(app) || !IsValidDeployKeyName(name)) return std::optional<DeployKeyEntry>();
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  PG_ASSIGN_OR_RETURN(bool exists, cache_->HasName(txn, Names::kApps, app));
  if (!exists) return std::optional<DeployKeyEntry>();
  return cache_->GetDeployKey(txn, app, name);
}

Result<std::vector<std::string>> Registry::AppsOf(std::string_view user) const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  PG_ASSIGN_OR_RETURN(std::vector<std::string> apps, cache_->ListNames(txn, Names::kApps));
  std::vector<std::string> out;
  for (std::string& app : apps) {
    PG_ASSIGN_OR_RETURN(bool member, cache_->HasMember(txn, app, user));
    if (member) out.push_back(std::move(app));
  }
  return out;
}

Result<bool> Registry::AppExists(std::string_view app) const {
  if (!IsValidAppName(app)) return false;
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  return cache_->HasName(txn, Names::kApps, app);
}

Result<bool> Registry::IsMember(std::string_view app, std::string_view user) const {
  if (!IsValidAppName(app) || !IsValidUserName(user)) return false;
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  return cache_->HasMember(txn, app, user);
}

Status Registry::AddCaKey(const PublicKey& key) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  std::string line = key.type + " " + key.blob + (key.comment.empty() ? "" : " " + key.comment);
  PG_ASSIGN_OR_RETURN(bool added, cache_->PutMapping(txn, Mappings::kCaKeys, key.sha256_fingerprint, line));
  if (!added) return Status::AlreadyExists("CA key " + key.sha256_fingerprint + " is already trusted");
  return txn.Commit();
}

Status Registry::RemoveCaKey(std::string_view fingerprint) {
  PG_RETURN_IF_ERROR(CheckFingerprint(fingerprint));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_ASSIGN_OR_RETURN(bool removed, cache_->DeleteMapping(txn, Mappings::kCaKeys, fingerprint));
  if (!removed) return Status::NotFound("no trusted CA key with fingerprint " + std::string(fingerprint));
  return txn.Commit();
}

Result<std::vector<TrustedCa>> Registry::ListCaKeys() const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  PG_ASSIGN_OR_RETURN(auto entries, cache_->ListMappings(txn, Mappings::kCaKeys));
  std::vector<TrustedCa> out;
  for (auto& [fingerprint, line] : entries) out.push_back({std::move(fingerprint), std::move(line)});
  return out;
}

Status Registry::AddPrincipal(std::string_view user, std::string_view principal) {
  PG_RETURN_IF_ERROR(CheckPrincipal(principal));
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  if (principal == user) {
    return Status::AlreadyExists("principal " + std::string(principal) + " already logs in as user " +
                                 std::string(user) + ": a principal equal to a user's name needs no mapping");
  }
  PG_ASSIGN_OR_RETURN(bool is_user, cache_->HasName(txn, Names::kUsers, principal));
  if (is_user) {
    return Status::AlreadyExists("principal " + std::string(principal) + " is the name of user " +
                                 std::string(principal) + ", so it logs in as that user; it cannot also name " +
                                 std::string(user));
  }
  PG_ASSIGN_OR_RETURN(std::optional<std::string> mapped, cache_->GetMapping(txn, Mappings::kPrincipals, principal));
  if (mapped) {
    return Status::AlreadyExists("principal " + std::string(principal) + " already logs in as user " + *mapped);
  }
  PG_RETURN_IF_ERROR(cache_->PutMapping(txn, Mappings::kPrincipals, principal, user).status());
  return txn.Commit();
}

Status Registry::RemovePrincipal(std::string_view user, std::string_view principal) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginWrite());
  PG_RETURN_IF_ERROR(RequireUser(txn, user));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> mapped, cache_->GetMapping(txn, Mappings::kPrincipals, principal));
  if (!mapped || *mapped != user) {
    return Status::NotFound("user " + std::string(user) + " has no principal " + Printable(principal, 160) +
                            " (pushgate user principal ls " + std::string(user) + " lists them)");
  }
  PG_RETURN_IF_ERROR(cache_->DeleteMapping(txn, Mappings::kPrincipals, principal).status());
  return txn.Commit();
}

Result<std::vector<PrincipalMapping>> Registry::ListPrincipals(std::optional<std::string_view> user) const {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache_->BeginRead());
  if (user) PG_RETURN_IF_ERROR(RequireUser(txn, *user));
  PG_ASSIGN_OR_RETURN(auto entries, cache_->ListMappings(txn, Mappings::kPrincipals));
  std::vector<PrincipalMapping> out;
  for (auto& [principal, owner] : entries) {
    if (!user || owner == *user) out.push_back({std::move(principal), std::move(owner)});
  }
  return out;
}

}  // namespace pushgate
