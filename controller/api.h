// The controller's answers as pushgate uses them (the wire format is in
// docs/controller-api.md; decoders are in json.h).
#ifndef PUSHGATE_CONTROLLER_API_H_
#define PUSHGATE_CONTROLLER_API_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace pushgate {

// GET /v2/hooks/key/{md5}: who owns a key. (The answer's "apps" lists
// every app on a Workflow cluster, whoever owns the key; it is not read.)
struct KeyOwner {
  std::string username;
};

// One entry of GET /v2/hooks/keys/{app}[/{user}].
struct ListedKey {
  std::string key;          // "TYPE BASE64 [COMMENT]"
  std::string fingerprint;  // MD5 colon-hex, informational only
};
using KeyLists = std::map<std::string, std::vector<ListedKey>>;  // username -> keys

// One change of the delta feed (GET /v2/hooks/keys?since=R&limit=N).
struct KeyChange {
  enum class Op { kPut, kDelete };
  Op op = Op::kPut;
  std::string fingerprint;  // "SHA256:..."
  std::string username;     // put only
  std::string key;          // put only: "TYPE BASE64 [COMMENT]"
};

struct DeltaPage {
  uint64_t revision = 0;  // of the last change in the page (or the current revision)
  bool more = false;      // another page follows: ask again with since=revision
  std::vector<KeyChange> changes;
};

// What the delta feed said.
struct FeedAnswer {
  enum class Kind {
    kPage,         // 200: `page` holds the changes
    kGone,         // 410: `since` is older than the retained history; resync from 0
    kUnsupported,  // 404: the controller has no delta feed; use per-key lookups
  } kind = Kind::kPage;
  DeltaPage page;
};

// POST /v2/hooks/builds: what to build.
struct BuildSpec {
  std::string app;
  std::string username;
  std::string sha;         // the pushed commit, 40 hex digits
  std::string ref;         // "refs/heads/main"
  std::string source;      // "sha256:<64 hex>", uploaded before
  std::string request_id;
  std::vector<std::string> push_options;  // git push -o, checked by the hook, passed as they are
};

// POST /v2/hooks/build (the stock Workflow builder hook): a built image to
// release. The controller makes the release and deploys it in that request.
struct WorkflowBuild {
  std::string app;
  std::string username;
  std::string short_sha;  // the first 8 hex digits, as the stock builder sends
  std::string image;      // what the build pushed: "registry:5000/web:git-1a2b3c4d"
  std::map<std::string, std::string> procfile;  // process type -> command
  bool dockerfile = false;                      // the commit has a Dockerfile
};

// GET /v2/hooks/builds/{id}
struct BuildState {
  enum class Phase { kPending, kRunning, kSucceeded, kFailed, kCancelled } phase = Phase::kPending;
  std::string id;
  std::string message;                    // may be empty
  std::optional<int64_t> release_version;  // set once a release was made
  bool finished() const { return phase != Phase::kPending && phase != Phase::kRunning; }
};

// Where keys come from: the controller (ControllerClient), or a test double.
// The key sync (sync/) depends on this interface, not on the HTTP client.
class KeySource {
 public:
  virtual ~KeySource() = default;
  // The delta feed from `since`, at most `limit` changes. `snapshot` marks
  // the continuation of a walk that started at since=0: the controller
  // serves it from its compacted history instead of answering 410.
  virtual Result<FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) = 0;
  // Who owns the key with this MD5 fingerprint ("e4:1f:..."); nullopt if nobody.
  virtual Result<std::optional<KeyOwner>> LookupKeyOwner(std::string_view md5_fingerprint) = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_API_H_
