// Validation of every name that crosses a trust boundary: app and user names,
// fingerprints, key types and key blobs. These checks are exact, anchored
// allowlists written as plain loops (no regex engine on the keys hot path);
// names_test.cc checks each against the documented regular expression.
//
// Anything that passes these checks is safe to place inside an
// authorized_keys command="..." option and a shell word: none of the accepted
// alphabets contains whitespace, quotes, backslashes, '$', '~', '*' or '?'.
// App names are also safe file names; user names never name a file.
#ifndef PUSHGATE_UTIL_NAMES_H_
#define PUSHGATE_UTIL_NAMES_H_

#include <optional>
#include <string>
#include <string_view>

namespace pushgate {

// ^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$
bool IsValidAppName(std::string_view name);

// A platform user: Django's username alphabet in ASCII (letters of either
// case, digits, @ . + - _), up to 150 characters as Django allows, not
// starting with '-' (never read as an option) and not "." or "..":
// ^(?!-)(?!\.{1,2}$)[A-Za-z0-9@.+_-]{1,150}$
bool IsValidUserName(std::string_view name);

// A user of the standalone registry, which keeps one spelling per person:
// ^[a-z0-9][a-z0-9._-]{0,63}$ (every such name is also a valid user name).
bool IsValidLocalUserName(std::string_view name);

// A deploy key's name within its app: ^[a-z0-9][a-z0-9._-]{0,63}$.
bool IsValidDeployKeyName(std::string_view name);

// A deploy key is bound to one app instead of a user. The key cache records
// it under the owner "deploy-key:APP:NAME": no user name contains ':', so an
// owner is never mistaken for a user, and like a user name it is safe inside
// command="..." and as a shell word.
std::string DeployKeyOwner(std::string_view app, std::string_view name);
struct DeployKeyId {
  std::string_view app;
  std::string_view name;
};
// The app and name of a deploy key's owner; nullopt for anything else.
std::optional<DeployKeyId> ParseDeployKeyOwner(std::string_view owner);
// Who a deploy key's push is logged and shown to the build as: "deploy-key:NAME".
std::string DeployKeyPusher(std::string_view name);

// The pusher a key's owner pushes as: DeployKeyPusher for a deploy key,
// the user name itself otherwise.
std::string PusherOf(std::string_view key_owner);

// What a key cache record may name as its owner: a user or a deploy key.
bool IsValidKeyOwner(std::string_view owner);
// Who a build may be told pushed: a user name or "deploy-key:NAME".
bool IsValidPusher(std::string_view pusher);

// A Unix account name (git_user): ^[a-z0-9][a-z0-9._-]{0,31}$
bool IsValidUnixUserName(std::string_view name);

// OpenSSH's SHA256 fingerprint: "SHA256:" followed by 43 characters of
// unpadded standard base64 (a 32-byte digest).
bool IsValidSha256Fingerprint(std::string_view fp);

// The public key algorithms pushgate accepts (OpenSSH 9 defaults, without DSA
// and certificates).
bool IsAllowedKeyType(std::string_view type);

// Standard base64 with optional '=' padding at the end only, non-empty, at
// most 16 KiB (an RSA-16384 key is about 2.8 KiB).
bool IsBase64Blob(std::string_view blob);

// An absolute path made only of [A-Za-z0-9/._+-], without "//" or a ".."
// component: safe inside command="..." and as a /bin/sh word.
bool IsSafeAbsolutePath(std::string_view path);

// A git ref name under refs/heads/ with a conservative alphabet.
bool IsValidBranchRef(std::string_view ref);

// A build id from the controller, used as a URL path segment:
// ^[A-Za-z0-9._-]{1,128}$ and not "." or "..".
bool IsValidBuildId(std::string_view id);

// Untrusted text (a pusher's command, a controller's name or message) made
// safe for a terminal or a log line: at most `max_chars` characters, every
// byte outside printable ASCII replaced by '?', and "..." if it was cut.
std::string Printable(std::string_view text, size_t max_chars);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_NAMES_H_
