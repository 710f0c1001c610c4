// The backend answers "may this user push to this app" and "does this app
// still exist". Standalone mode asks the local registry; controller mode asks
// the platform controller. The forced shell and the reaper depend only on
// this interface, so tests can inject one.
#ifndef PUSHGATE_BACKEND_BACKEND_H_
#define PUSHGATE_BACKEND_BACKEND_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

class Backend {
 public:
  virtual ~Backend() = default;

  // How the pusher logged in: a key, or an SSH user certificate (the
  // certified key's fingerprint and the CA that signed it). A key alone
  // converts implicitly.
  struct Credential {
    Credential(std::string_view key_fingerprint, std::string_view ca = {})
        : fingerprint(key_fingerprint), ca_fingerprint(ca) {}
    Credential(const std::string& key_fingerprint) : fingerprint(key_fingerprint) {}
    std::string_view fingerprint;
    std::string_view ca_fingerprint;  // empty unless the login was a certificate
  };

  // What a session wants: a fetch reads, a push writes.
  enum class Access { kRead, kWrite };

  // OK if `user`, authenticated by `key` (still registered, or for a
  // certificate its CA still trusted), may read (fetch)
  // or write (push) `app`. Otherwise a Status whose message is precise (for
  // the log; the pusher gets AccessRefusal()): NotFound "App APP does not
  // exist", PermissionDenied "You do not have access to APP"; Unavailable,
  // written for the pusher, when the answer cannot be had now;
  // Unimplemented when the controller lacks the route asked (its message is
  // for the operator's log). Never answered from a cache of earlier allows.
  virtual Status Authorize(std::string_view app, std::string_view user, const Credential& key,
                           Access access) = 0;

  // The apps `user`, authenticated by `key`, may fetch, by
  // name, with whether they may push too. Unimplemented where the backend
  // cannot list them: the controller contract has no such question.
  struct AppPermission {
    std::string app;
    bool push = false;
    bool operator==(const AppPermission&) const = default;
  };
  virtual Result<std::vector<AppPermission>> ListAccess(std::string_view user, const Credential& key);

  // Whether each of `apps` exists, in order. Only an explicit "does not
  // exist" is kGone; anything uncertain (timeouts, 5xx, 403, malformed
  // answers) is kUnknown, logged with its reason.
  enum class AppState { kExists, kGone, kUnknown };
  virtual std::vector<AppState> CheckApps(const std::vector<std::string>& apps) = 0;
};

// What a pusher is told when `app` does not exist (`app_missing`) or is not
// theirs to read or write. Unless `distinguish_missing_apps`
// (push.distinguish_missing_apps), both get the same words, as on GitHub:
// otherwise any registered key could probe which app names exist. Callers
// log the precise reason.
std::string AccessRefusal(std::string_view app, bool app_missing, bool distinguish_missing_apps);

// The backend for `config.mode`. A request id, if given, goes to the
// controller with every request (X-Request-Id), so its logs show the push.
Result<std::unique_ptr<Backend>> OpenBackend(const Config& config, std::string_view request_id = "");

}  // namespace pushgate

#endif  // PUSHGATE_BACKEND_BACKEND_H_
