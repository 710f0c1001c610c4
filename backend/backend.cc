#include "backend/backend.h"

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

 private:
  std::string db_dir_;
};

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

 private:
  std::unique_ptr<ControllerClient> client_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config) {
  switch (config.mode) {
    case Mode::kStandalone: return std::unique_ptr<Backend>(new StandaloneBackend(config.DbDir()));
    case Mode::kController: {
      PG_ASSIGN_OR_RETURN(std::unique_ptr<ControllerClient> client, ControllerClient::Create(config.controller));
      return std::unique_ptr<Backend>(new ControllerBackend(std::move(client)));
    }
  }
  return Status::Internal("unknown mode");
}

}  // namespace pushgate
