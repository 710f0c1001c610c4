// Decoders for the controller's JSON answers (simdjson). Every answer is
// attacker-influenced: decoding is strict about types, refuses duplicate
// object keys and nesting deeper than a few levels, and returns Corruption
// with a message naming the offending field. Unknown fields are ignored so
// controllers can add to their answers. Sizes are bounded by the HTTP layer.
#ifndef PUSHGATE_CONTROLLER_JSON_H_
#define PUSHGATE_CONTROLLER_JSON_H_

#include <string_view>

#include "controller/api.h"
#include "util/status.h"

namespace pushgate {

// {"username": "alice", "apps": ["a", "b"]}
Result<KeyOwner> DecodeKeyOwner(std::string_view json);

// {"alice": [{"key": "ssh-ed25519 AAAA...", "fingerprint": "e4:1f:..."}], ...}
Result<KeyLists> DecodeKeyLists(std::string_view json);

// {"revision": 42, "more": false, "changes": [{"op": "put", "fingerprint": "SHA256:...",
//   "username": "alice", "key": "ssh-ed25519 AAAA..."}, {"op": "delete", "fingerprint": "SHA256:..."}]}
Result<DeltaPage> DecodeDeltaPage(std::string_view json);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_JSON_H_
