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

// {"username": "alice", "apps": [...]}; "apps" is not read.
Result<KeyOwner> DecodeKeyOwner(std::string_view json);

// {"alice": [{"key": "ssh-ed25519 AAAA...", "fingerprint": "e4:1f:..."}], ...}
Result<KeyLists> DecodeKeyLists(std::string_view json);

// {"revision": 42, "more": false, "changes": [{"op": "put", "fingerprint": "SHA256:...",
//   "username": "alice", "key": "ssh-ed25519 AAAA..."}, {"op": "delete", "fingerprint": "SHA256:..."}]}
Result<DeltaPage> DecodeDeltaPage(std::string_view json);

// {"apps": {"web": true, "old": false}}: which apps exist.
Result<std::map<std::string, bool>> DecodeAppLookup(std::string_view json);

// POST /v2/hooks/config's answer: an object; "values", if there, an object.
Status CheckAppConfig(std::string_view json);

// POST /v2/hooks/build's answer: {"release": {"version": 7}}.
Result<int64_t> DecodeReleaseVersion(std::string_view json);

// The file a workflow-driver build command writes (PUSHGATE_BUILD_RESULT):
// {"image": "registry.example.com:5000/web:git-1a2b3c4d"}. Decoded here with
// the controller's answers since it is JSON from outside pushgate too. The
// image must be a plausible reference: [A-Za-z0-9._:/@-], at most 255.
Result<std::string> DecodeBuildResult(std::string_view json);

// {"id": "b-42"}: a created build. The id must be a safe path segment
// ([A-Za-z0-9._-], at most 128 characters).
Result<std::string> DecodeBuildCreated(std::string_view json);

// {"id": "b-42", "state": "running", "message": "...", "release": {"version": 7} | null}
Result<BuildState> DecodeBuildState(std::string_view json);

// The human-readable reason in an error answer: a bare JSON string (Django
// REST framework's 404s), the "detail" (Workflow) or "message" field of a
// JSON object, a validation error ({"procfile": ["..."]} gives "procfile:
// ..."), else the body itself if it is short text that is neither JSON nor
// markup; empty if there is none. Not sanitized: see Printable().
std::string DecodeErrorMessage(std::string_view body);

// A flat JSON object of strings and integers (pushgate's own records, such
// as the reaper's last-run summary), as field -> value; integers keep their
// text. `what` names the document in errors. Nested values, other types and
// duplicate keys are refused.
Result<std::map<std::string, std::string>> DecodeFlatObject(std::string_view json, std::string_view what);

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_JSON_H_
