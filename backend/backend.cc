#include "backend/backend.h"

#include <algorithm>
#include <map>
#include <optional>

#include "controller/client.h"
#include "registry/registry.h"
#include "sshkey/sshkey.h"
#include "util/log.h"

namespace pushgate {
namespace {

Status AppMissing(std::string_view app) {
  return Status::NotFound("App " + std::string(app) + " does not exist");
}

Status NoAccess(std::string_view app) {
  return Status::PermissionDenied("You do not have access to " + std::string(app));
}

class StandaloneBackend : public Backend {
 public:
  explicit StandaloneBackend(std::string db_dir) : db_dir_(std::move(db_dir)) {}

  Status Authorize(std::string_view app, std::string_view user, std::string_view fingerprint) override {
    Result<std::unique_ptr<Registry>> registry = Registry::Open(db_dir_, KeyCache::Access::kReadOnly);
    if (!registry.ok()) {
      if (registry.status().IsNotFound()) return AppMissing(app);
      return registry.status();
    }
    PG_ASSIGN_OR_RETURN(bool exists, (*registry)->AppExists(app));
    if (!exists) return AppMissing(app);
    PG_ASSIGN_OR_RETURN(bool member, (*registry)->IsMember(app, user));
    if (!member) return NoAccess(app);
    // The key may have been removed since sshd accepted it.
    PG_ASSIGN_OR_RETURN(KeyLookup key, (*registry)->cache().Lookup(fingerprint));
    if (!key.record || key.record->user != user) return NoAccess(app);
    return Status::OK();
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

// Asks the controller before every push; nothing is cached, so a revoked key
// or membership takes effect at once.
class ControllerBackend : public Backend {
 public:
  explicit ControllerBackend(std::unique_ptr<ControllerClient> client) : client_(std::move(client)) {}

  Status Authorize(std::string_view app, std::string_view user, std::string_view fingerprint) override {
    Result<AppAccess> access = client_->AppUserKeys(app, user);
    if (!access.ok()) {
      log::Warn("controller access check failed", {{"error", access.status().message()}});
      return Status::Unavailable(kControllerUnavailable);
    }
    switch (access->kind) {
      case AppAccess::Kind::kNoSuchApp: return AppMissing(app);
      case AppAccess::Kind::kForbidden: return NoAccess(app);
      case AppAccess::Kind::kAllowed: break;
    }
    // The authenticated key must be one of the user's keys: compared by the
    // SHA256 fingerprint of each parsed key, never by text.
    for (const ListedKey& listed : access->keys) {
      Result<PublicKey> key = ParsePublicKeyLine(listed.key);
      if (key.ok() && key->sha256_fingerprint == fingerprint) return Status::OK();
    }
    log::Info("the authenticated key is not among the user's keys on the controller");
    return NoAccess(app);
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
  std::unique_ptr<ControllerClient> client_;
  bool batch_lookup_ = true;  // until the controller answers 404 to it
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, std::string_view request_id) {
  switch (config.mode) {
    case Mode::kStandalone: return std::unique_ptr<Backend>(new StandaloneBackend(config.DbDir()));
    case Mode::kController: {
      PG_ASSIGN_OR_RETURN(std::unique_ptr<ControllerClient> client, ControllerClient::Create(config.controller));
      if (!request_id.empty()) client->set_request_id(std::string(request_id));
      return std::unique_ptr<Backend>(new ControllerBackend(std::move(client)));
    }
  }
  return Status::Internal("unknown mode");
}

}  // namespace pushgate
