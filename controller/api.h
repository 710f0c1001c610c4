// The controller's answers as pushgate uses them (the wire format is in
// docs/controller-api.md; decoders are in json.h).
#ifndef PUSHGATE_CONTROLLER_API_H_
#define PUSHGATE_CONTROLLER_API_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pushgate {

// GET /v2/hooks/key/{md5}: who owns a key.
struct KeyOwner {
  std::string username;
  std::vector<std::string> apps;
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

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_API_H_
