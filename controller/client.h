// The platform controller's HTTP API (docs/controller-api.md): the
// Workflow/Drycc-compatible hooks endpoints and pushgate's delta feed.
//
// Every request carries the configured auth header and token. Results map
// HTTP answers to values: 404/403 where the API gives them a meaning, and
// Unavailable for anything that means "ask again later" (timeouts, resets,
// 5xx, malformed answers), with a message for the log.
#ifndef PUSHGATE_CONTROLLER_CLIENT_H_
#define PUSHGATE_CONTROLLER_CLIENT_H_

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

class ControllerClient : public KeySource {
 public:
  // Reads the token file; fails if it is missing, empty or unreadable.
  static Result<std::unique_ptr<ControllerClient>> Create(const ControllerConfig& config);

  Result<FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) override;
  Result<std::optional<KeyOwner>> LookupKeyOwner(std::string_view md5_fingerprint) override;
  // App and user names must be valid (util/names.h); they go into the path.
  Result<AppAccess> AppUserKeys(std::string_view app, std::string_view user);

 private:
  explicit ControllerClient(HttpOptions options) : http_(std::move(options)) {}
  HttpClient http_;
};

// The header line to send for `header` and the token file's contents.
std::string AuthHeaderLine(std::string_view header, std::string_view token);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_CLIENT_H_
