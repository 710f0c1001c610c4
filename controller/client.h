// The platform controller's HTTP API (docs/controller-api.md): the
// Workflow/Drycc-compatible hooks endpoints and pushgate's delta feed.
//
// Every request carries the configured auth header and token. Results map
// HTTP answers to values: 404/403 where the API gives them a meaning, and
// Unavailable for anything that means "ask again later" (timeouts, resets,
// 5xx, malformed answers), with a message for the log.
#ifndef PUSHGATE_CONTROLLER_CLIENT_H_
#define PUSHGATE_CONTROLLER_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/sync.h"
#include "config/config.h"
#include "controller/api.h"
#include "controller/http.h"
#include "util/status.h"

namespace pushgate {

// GET /v2/hooks/keys/{app}/{user}
struct AppAccess {
  enum class Kind { kAllowed, kForbidden, kNoSuchApp } kind = Kind::kNoSuchApp;
  std::vector<ListedKey> keys;  // kAllowed: the user's keys
};

// POST /v2/hooks/builds
struct BuildAdmission {
  enum class Kind {
    kCreated,    // 201: `id` names the build
    kForbidden,  // 403
    kNoSuchApp,  // 404
    kBusy,       // 409: another build of this app is running
    kQuota,      // 429: `retry_after` says when to try again (if given)
    kRejected,   // any other 4xx
  } kind = Kind::kCreated;
  std::string id;
  std::string message;      // the controller's reason, printable, may be empty
  std::string retry_after;  // the Retry-After header, printable
};

// Callbacks for long transfers (source upload, build log): on_tick runs about
// once a second; an error from either aborts the transfer and is returned.
struct StreamCallbacks {
  std::function<Status(std::string_view)> on_data;
  std::function<Status()> on_tick;
};

class ControllerClient : public KeySource {
 public:
  // Reads the token file; fails if it is missing, empty or unreadable.
  static Result<std::unique_ptr<ControllerClient>> Create(const ControllerConfig& config);

  Result<FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) override;
  Result<std::optional<KeyOwner>> LookupKeyOwner(std::string_view md5_fingerprint) override;
  // App and user names must be valid (util/names.h); they go into the path.
  Result<AppAccess> AppUserKeys(std::string_view app, std::string_view user);
  // GET /v2/hooks/keys/{app}: kAllowed if the app exists, kNoSuchApp on 404,
  // kForbidden on 403.
  Result<AppAccess> AppKeys(std::string_view app);
  // POST /v2/hooks/apps/lookup (pushgate extension, at most 1,000 names):
  // which of `apps` exist; names missing from the answer are left out.
  // nullopt if the controller does not have the endpoint (404, 405).
  Result<std::optional<std::map<std::string, bool>>> LookupApps(const std::vector<std::string>& apps);

  // Every request carries X-Request-Id once this is set (the push's id, so
  // the controller's logs show which push asked).
  void set_request_id(std::string request_id) { request_id_ = std::move(request_id); }

  // The build API. `digest` is "sha256:<64 hex>".
  Result<bool> HasSource(std::string_view digest);
  // Streams the file `fd` (from its start). InvalidArgument if the
  // controller refuses the body (digest mismatch, too large), with its reason.
  Status UploadSource(std::string_view digest, int fd, const StreamCallbacks& callbacks);
  Result<BuildAdmission> CreateBuild(const BuildSpec& spec);
  Result<BuildState> GetBuild(std::string_view id);
  // Streams the log from byte `offset` to callbacks.on_data until the
  // controller closes it. OK means it closed cleanly (the build may still be
  // running if a proxy cut it short: ask GetBuild); NotFound: no such build.
  Status StreamBuildLog(std::string_view id, uint64_t offset, const StreamCallbacks& callbacks);

 private:
  explicit ControllerClient(HttpOptions options) : http_(std::move(options)) {}
  std::vector<std::string> RequestHeaders() const;
  HttpClient http_;
  std::string request_id_;
};

// The header line to send for `header` and the token file's contents.
std::string AuthHeaderLine(std::string_view header, std::string_view token);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_CLIENT_H_
