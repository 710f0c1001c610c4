#include "backend/backend.h"

#include "registry/registry.h"

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

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config) {
  switch (config.mode) {
    case Mode::kStandalone: return std::unique_ptr<Backend>(new StandaloneBackend(config.DbDir()));
    case Mode::kController: break;
  }
  return Status::InvalidArgument("controller mode is not available in this version");
}

}  // namespace pushgate
