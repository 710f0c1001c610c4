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

// POST /v2/hooks/config and POST /v2/hooks/build, the stock builder hooks.
struct HookAnswer {
  enum class Kind {
    kOk,         // 200: `body` holds the answer
    kForbidden,  // 403: the user may not change the app
    kNoSuchApp,  // the controller's own 404: no such app, or no such user
    kRefused,    // another 4xx (a 400 about the build, a 409 conflict): `message` says why
  } kind = Kind::kOk;
  std::string body;
  std::string message;  // the controller's reason, printable; never an HTML page
};

// Callbacks for long transfers (source upload, build log): on_tick runs about
// once a second; an error from either aborts the transfer and is returned.
struct StreamCallbacks {
  std::function<Status(std::string_view)> on_data;
  std::function<Status()> on_tick;
};

// A route the controller does not have answers with its web framework's
// HTML 404 page, never the API's JSON: such answers are Unimplemented
// ("the controller does not implement ..."), never a refusal, and their
// bodies are never shown to anyone.
class ControllerClient : public KeySource {
 public:
  // Reads the token file; fails if it is missing, empty or unreadable. The
  // file is read again whenever it changes (a platform that rotates tokens
  // can replace it under a running sidecar).
  static Result<std::unique_ptr<ControllerClient>> Create(const ControllerConfig& config);

  Result<FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) override;
  Result<std::optional<KeyOwner>> LookupKeyOwner(std::string_view md5_fingerprint) override;
  // App and user names must be valid (util/names.h); they go into the path,
  // the user name percent-encoded.
  Result<AppAccess> AppUserKeys(std::string_view app, std::string_view user);
  // GET /v2/hooks/keys/{app}: kAllowed if the app exists, kNoSuchApp on the
  // controller's own 404, kForbidden on 403.
  Result<AppAccess> AppKeys(std::string_view app);
  // POST /v2/hooks/config {"receive_user", "receive_repo"}: the app's config
  // if the user may change the app (the stock builder's write check).
  Result<HookAnswer> FetchAppConfig(std::string_view app, std::string_view user);
  // POST /v2/hooks/build: releases `build`. The controller deploys inside
  // the request, so it is bounded by `timeout`, not controller.timeout;
  // `on_tick` runs about once a second and can abort it.
  Result<HookAnswer> PublishBuild(const WorkflowBuild& build, Duration timeout, const std::function<Status()>& on_tick);
  // POST /v2/hooks/apps/lookup (pushgate extension, at most 1,000 names):
  // which of `apps` exist; names missing from the answer are left out.
  // nullopt if the controller does not have the endpoint (404, 405).
  Result<std::optional<std::map<std::string, bool>>> LookupApps(const std::vector<std::string>& apps);

  // Every request carries X-Request-Id once this is set (the push's id, so
  // the controller's logs show which push asked).
  void set_request_id(std::string request_id) { request_id_ = std::move(request_id); }

  // The build API (pushgate's extension). `digest` is "sha256:<64 hex>".
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
  // POST /v2/hooks/builds/{id}/cancel: stops a running build. OK once the
  // controller took it; AlreadyExists if the build had ended (409);
  // Unimplemented if the controller has no such route.
  Status CancelBuild(std::string_view id);

 private:
  ControllerClient(HttpOptions options, ControllerConfig config) : http_(std::move(options)), config_(std::move(config)) {}
  // The auth header (the token file read again if it changed) and the
  // request id.
  std::vector<std::string> RequestHeaders();
  Status ReadToken();
  Result<HookAnswer> PostHook(std::string_view route, std::string body, std::optional<Duration> timeout,
                              const std::function<Status()>& on_tick);

  HttpClient http_;
  ControllerConfig config_;
  std::string auth_line_;
  struct TokenFileState {
    int64_t mtime_ns = -1;
    uint64_t inode = 0;
    int64_t size = -1;
    bool operator==(const TokenFileState&) const = default;
  } token_state_;
  std::string request_id_;
};

// `segment` percent-encoded for a URL path (RFC 3986 unreserved characters
// stay as they are): "first.last" stays, "a+b@x" becomes "a%2Bb%40x".
std::string EncodePathSegment(std::string_view segment);

// The header line to send for `header` and the token file's contents.
std::string AuthHeaderLine(std::string_view header, std::string_view token);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_CLIENT_H_
