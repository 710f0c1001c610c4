#include "backend/backend.h"

#include <algorithm>
#include <map>
#include <optional>

#include "controller/client.h"
#include "registry/registry.h"
#include "util/log.h"
#include "util/names.h"
#include "util/random_id.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

Status AppMissing(std::string_view app) {
  return Status::NotFound("App " + std::string(app) + " does not exist");
}

Status NoAccess(std::string_view app) {
  return Status::PermissionDenied("You do not have access to " + std::string(app));
}

// A deploy key reaches its own app only, and pushes only if it was added
// with --push.
Status AuthorizeDeployKey(const Registry& registry, std::string_view app, const DeployKeyId& id,
                          std::string_view fingerprint, Backend::Access access) {
  if (app != id.app) return NoAccess(app);
  PG_ASSIGN_OR_RETURN(std::optional<DeployKeyEntry> entry, registry.FindDeployKey(id.app, id.name));
  if (!entry || entry->fingerprint != fingerprint) return NoAccess(app);
  if (access == Backend::Access::kWrite && !entry->push) {
    return Status::PermissionDenied("deploy key " + std::string(id.name) + " may fetch " + std::string(app) +
                                    " but not push to it; ask the operator for a deploy key added with --push");
  }
  return Status::OK();
}

class StandaloneBackend : public Backend {
 public:
  explicit StandaloneBackend(std::string db_dir) : db_dir_(std::move(db_dir)) {}

  // The login may have been withdrawn since the front end accepted it: the
  // key removed, or for a certificate its CA no longer trusted (a
  // certificate never logs in as a deploy key).
  static Result<bool> StillValid(Registry& registry, std::string_view user, const Credential& key) {
    if (!key.ca_fingerprint.empty()) {
      if (ParseDeployKeyOwner(user)) return false;
      PG_ASSIGN_OR_RETURN(lmdb::Txn txn, registry.cache().BeginRead());
      PG_ASSIGN_OR_RETURN(std::optional<std::string> ca,
                          registry.cache().GetMapping(txn, Mappings::kCaKeys, key.ca_fingerprint));
      return ca.has_value();
    }
    PG_ASSIGN_OR_RETURN(KeyLookup found, registry.cache().Lookup(key.fingerprint));
    return found.record && found.record->user == user;
  }

  // Standalone members may read and write; deploy keys as they were added.
  Status Authorize(std::string_view app, std::string_view user, const Credential& key,
                   Access access) override {
    Result<std::unique_ptr<Registry>> registry = Registry::Open(db_dir_, KeyCache::Access::kReadOnly);
    if (!registry.ok()) {
      if (registry.status().IsNotFound()) return AppMissing(app);
      return registry.status();
    }
    PG_ASSIGN_OR_RETURN(bool exists, (*registry)->AppExists(app));
    if (!exists) return AppMissing(app);
    if (std::optional<DeployKeyId> deploy_key = ParseDeployKeyOwner(user)) {
      PG_RETURN_IF_ERROR(AuthorizeDeployKey(**registry, app, *deploy_key, key.fingerprint, access));
    } else {
      PG_ASSIGN_OR_RETURN(bool member, (*registry)->IsMember(app, user));
      if (!member) return NoAccess(app);
    }
    PG_ASSIGN_OR_RETURN(bool still_valid, StillValid(**registry, user, key));
    return still_valid ? Status::OK() : NoAccess(app);
  }

  Result<std::vector<AppPermission>> ListAccess(std::string_view user, const Credential& key) override {
    std::vector<AppPermission> out;
    Result<std::unique_ptr<Registry>> registry = Registry::Open(db_dir_, KeyCache::Access::kReadOnly);
    if (!registry.ok()) {
      if (registry.status().IsNotFound()) return out;
      return registry.status();
    }
    PG_ASSIGN_OR_RETURN(bool still_valid, StillValid(**registry, user, key));
    if (!still_valid) return out;
    if (std::optional<DeployKeyId> deploy_key = ParseDeployKeyOwner(user)) {
      PG_ASSIGN_OR_RETURN(std::optional<DeployKeyEntry> entry,
                          (*registry)->FindDeployKey(deploy_key->app, deploy_key->name));
      if (entry && entry->fingerprint == key.fingerprint) out.push_back({std::string(deploy_key->app), entry->push});
      return out;
    }
    PG_ASSIGN_OR_RETURN(std::vector<std::string> apps, (*registry)->AppsOf(user));
    for (std::string& app : apps) out.push_back({std::move(app), true});
    return out;
  }

  std::vector<AppState> CheckApps(const std::vector<std::string>& apps) override {
    std::vector<AppState> states(apps.size(), AppState::kUnknown);
    Result<std::unique_ptr<Registry>> registry = Registry::Open(db_dir_, KeyCache::Access::kReadOnly);
    if (!registry.ok()) {
      log::Warn("cannot open the registry to check apps", {{"error", registry.status().message()}});
      return states;
    }
    for (size_t i = 0; i < apps.size(); ++i) {
      Result<bool> exists = (*registry)->AppExists(apps[i]);
      if (exists.ok()) states[i] = *exists ? AppState::kExists : AppState::kGone;
    }
    return states;
  }

 private:
  std::string db_dir_;
};

constexpr size_t kAppLookupBatch = 1000;  // the most names one lookup request may carry

constexpr char kControllerUnavailable[] = "the platform controller is unavailable, try again shortly";

// Asks the controller before every push and fetch; nothing is cached, so a
// revoked key or membership takes effect at once.
//
// Which question depends on the build driver. pushgate's own contract
// (drivers "pushgate" and "local"): GET /v2/hooks/keys/{app}/{user} answers
// 200 for a user who may push and fetch, and lists their keys. A stock
// Workflow controller ("workflow"): that GET is a read permission (Drycc
// 1.12 on answers it for viewers), so a push is allowed by the stock
// builder's own write check, POST /v2/hooks/config; and since Deis routes
// /v2/hooks/keys/{app}/{user} only for names of [-_A-Za-z0-9], a user
// named otherwise ("first.last") is asked the write question for a fetch too.
class ControllerBackend : public Backend {
 public:
  ControllerBackend(std::unique_ptr<ControllerClient> client, BuildDriver driver)
      : client_(std::move(client)), driver_(driver) {}

  Status Authorize(std::string_view app, std::string_view user, const Credential& key,
                   Access access) override {
    // SSH certificates are a standalone-mode feature: the platform knows
    // nothing of pushgate's CAs.
    if (!key.ca_fingerprint.empty()) return NoAccess(app);
    std::string_view fingerprint = key.fingerprint;
    bool workflow = driver_ == BuildDriver::kWorkflow;
    if (workflow && (access == Access::kWrite || !RoutedByWorkflow(user))) return MayWrite(app, user);
    return MayUseWithKey(app, user, fingerprint);
  }

  // In batches through the lookup extension; one by one through the
  // Workflow endpoint if the controller does not have it.
  std::vector<AppState> CheckApps(const std::vector<std::string>& apps) override {
    std::vector<AppState> states(apps.size(), AppState::kUnknown);
    for (size_t start = 0; start < apps.size(); start += kAppLookupBatch) {
      size_t end = std::min(apps.size(), start + kAppLookupBatch);
      std::vector<std::string> batch(apps.begin() + static_cast<std::ptrdiff_t>(start),
                                     apps.begin() + static_cast<std::ptrdiff_t>(end));
      if (batch_lookup_) {
        Result<std::optional<std::map<std::string, bool>>> found = client_->LookupApps(batch);
        if (!found.ok()) {
          log::Warn("app lookup failed", {{"error", found.status().message()}});
          continue;
        }
        if (found->has_value()) {
          for (size_t i = start; i < end; ++i) {
            auto it = (*found)->find(apps[i]);
            if (it != (*found)->end()) states[i] = it->second ? AppState::kExists : AppState::kGone;
          }
          continue;
        }
        batch_lookup_ = false;
        log::Info("the controller has no batch app lookup; asking app by app");
      }
      if (!AnswersNoSuchApp()) return states;
      for (size_t i = start; i < end; ++i) {
        Result<AppAccess> keys = client_->AppKeys(apps[i]);
        if (!keys.ok()) {
          log::Warn("app check failed", {{"app", apps[i]}, {"error", keys.status().message()}});
          continue;
        }
        states[i] = keys->kind == AppAccess::Kind::kNoSuchApp ? AppState::kGone
                    : keys->kind == AppAccess::Kind::kAllowed ? AppState::kExists
                                                               : AppState::kUnknown;
      }
    }
    return states;
  }

 private:
  // Before "no such app" may count as gone: an app that cannot exist must
  // get the controller's own answer for it (its JSON 404). A wrong
  // controller.url, a proxy's error page or a missing route answers
  // otherwise, and then every app is unknown.
  bool AnswersNoSuchApp() {
    std::string probe = "pushgate-probe-" + RandomHex(6);
    Result<AppAccess> answer = client_->AppKeys(probe);
    if (answer.ok() && answer->kind == AppAccess::Kind::kNoSuchApp) return true;
    log::Error("the controller did not answer \"no such app\" for an app that cannot exist; counting no app as "
               "gone (check controller.url)",
               {{"app", probe}, {"error", answer.ok() ? "answered as if it existed" : answer.status().message()}});
    return false;
  }

  // Deis Workflow's route for /v2/hooks/keys/{app}/{user} matches [-_\w]+.
  static bool RoutedByWorkflow(std::string_view user) {
    for (char c : user) {
      bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      if (!word) return false;
    }
    return true;
  }

  static Status Trouble(const Status& status, std::string_view what) {
    if (status.code() == Status::Code::kUnimplemented) {
      log::Error(std::string(what) + ": the controller does not have the route", {{"error", status.message()}});
      return status;
    }
    log::Warn(std::string(what) + " failed", {{"error", status.message()}});
    return Status::Unavailable(kControllerUnavailable);
  }

  // The stock builder's write check. The key's owner is the user the
  // controller named for the key (the key cache), so no key list is asked.
  Status MayWrite(std::string_view app, std::string_view user) {
    Result<HookAnswer> answer = client_->FetchAppConfig(app, user);
    if (!answer.ok()) return Trouble(answer.status(), "controller write check");
    switch (answer->kind) {
      case HookAnswer::Kind::kOk: return Status::OK();
      case HookAnswer::Kind::kForbidden: return NoAccess(app);
      case HookAnswer::Kind::kNoSuchApp:
        // "No User matches": a user the controller no longer has.
        if (answer->message.find("User") != std::string::npos) return NoAccess(app);
        return AppMissing(app);
      case HookAnswer::Kind::kRefused:
        log::Warn("the controller refused the write check", {{"message", answer->message}});
        return NoAccess(app);
    }
    return NoAccess(app);
  }

  Status MayUseWithKey(std::string_view app, std::string_view user, std::string_view fingerprint) {
    Result<AppAccess> access = client_->AppUserKeys(app, user);
    if (!access.ok()) return Trouble(access.status(), "controller access check");
    switch (access->kind) {
      case AppAccess::Kind::kNoSuchApp: return AppMissing(app);
      case AppAccess::Kind::kForbidden: return NoAccess(app);
      case AppAccess::Kind::kAllowed: break;
    }
    // The authenticated key must be one of the user's keys: compared by the
    // SHA256 fingerprint of each listed key's blob, never by text. sshd has
    // verified the key, so hashing the blob is enough (no libssh load).
    for (const ListedKey& listed : access->keys) {
      if (KeyLineSha256Fingerprint(listed.key) == fingerprint) return Status::OK();
    }
    log::Info("the authenticated key is not among the user's keys on the controller");
    return NoAccess(app);
  }

  std::unique_ptr<ControllerClient> client_;
  BuildDriver driver_;
  bool batch_lookup_ = true;  // until the controller answers 404 to it
};

}  // namespace

Result<std::vector<Backend::AppPermission>> Backend::ListAccess(std::string_view, const Credential&) {
  return Status::Unimplemented("this backend cannot list a user's apps");
}

std::string AccessRefusal(std::string_view app, bool app_missing, bool distinguish_missing_apps) {
  if (!distinguish_missing_apps) return "App " + std::string(app) + " does not exist or you do not have access to it";
  return app_missing ? AppMissing(app).message() : NoAccess(app).message();
}

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, std::string_view request_id) {
  switch (config.mode) {
    case Mode::kStandalone: return std::unique_ptr<Backend>(new StandaloneBackend(config.dirs().Db()));
    case Mode::kController: {
      PG_ASSIGN_OR_RETURN(std::unique_ptr<ControllerClient> client, ControllerClient::Create(config.controller));
      if (!request_id.empty()) client->set_request_id(std::string(request_id));
      return std::unique_ptr<Backend>(new ControllerBackend(std::move(client), config.build.driver));
    }
  }
  return Status::Internal("unknown mode");
}

}  // namespace pushgate
