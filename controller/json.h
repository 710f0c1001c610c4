// Decoders for the controller's JSON answers (simdjson). Every answer is
// attacker-influenced: decoding is strict about types, refuses duplicate
// object keys and nesting deeper than a few levels, and returns Corruption
// with a message naming the offending field. Unknown fields are ignored so
// controllers can add to their answers. Sizes are bounded by the HTTP layer.
#ifndef PUSHGATE_CONTROLLER_JSON_H_
#define PUSHGATE_CONTROLLER_JSON_H_

#include <map>
#include <string>
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

// {"apps": {"web": true, "old": false}}: which apps exist.
Result<std::map<std::string, bool>> DecodeAppLookup(std::string_view json);

// {"id": "b-42"}: a created build. The id must be a safe path segment
// ([A-Za-z0-9._-], at most 128 characters).
Result<std::string> DecodeBuildCreated(std::string_view json);

// {"id": "b-42", "state": "running", "message": "...", "release": {"version": 7} | null}
Result<BuildState> DecodeBuildState(std::string_view json);

// The human-readable reason in an error answer: the "detail" (Workflow) or
// "message" field of a JSON object, else the body itself if it is short
// text; empty if there is none. Not sanitized: see Printable().
std::string DecodeErrorMessage(std::string_view body);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_JSON_H_
