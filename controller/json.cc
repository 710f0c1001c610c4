#include "controller/json.h"

#include <simdjson.h>

#include <cctype>
#include <functional>
#include <set>

#include "util/names.h"

namespace pushgate {
namespace {

namespace dom = simdjson::dom;

// Answers are flat: an object of arrays of objects at most.
constexpr size_t kMaxDepth = 8;

Status Malformed(std::string_view what) {
  return Status::Corruption("malformed controller answer: " + std::string(what));
}

Result<dom::element> Parse(dom::parser& parser, simdjson::padded_string& padded) {
  if (parser.allocate(padded.size(), kMaxDepth) != simdjson::SUCCESS) {
    return Status::ResourceExhausted("cannot allocate a JSON parser for the controller's answer");
  }
  dom::element doc;
  simdjson::error_code err = parser.parse(padded).get(doc);
  if (err != simdjson::SUCCESS) return Malformed(simdjson::error_message(err));
  return doc;
}

// Walks an object's fields, refusing duplicate keys.
Status ForEachField(dom::object object, std::string_view where,
                    const std::function<Status(std::string_view, dom::element)>& visit) {
  std::set<std::string_view> seen;
  for (dom::key_value_pair field : object) {
    if (!seen.insert(field.key).second) {
      return Malformed(std::string(where) + " has the key \"" + std::string(field.key.substr(0, 64)) +
                       "\" twice");
    }
    PG_RETURN_IF_ERROR(visit(field.key, field.value));
  }
  return Status::OK();
}

Result<std::string> String(dom::element e, std::string_view field) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return Malformed(std::string(field) + " must be a string");
  return std::string(s);
}

Result<dom::object> Object(dom::element e, std::string_view what) {
  dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return Malformed(std::string(what) + " must be an object");
  return o;
}

Result<dom::array> Array(dom::element e, std::string_view what) {
  dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return Malformed(std::string(what) + " must be an array");
  return a;
}

// Parses `json`, which must be an object (`what` names it in errors), and
// visits its fields; the document lives for the duration of the visit.
Status VisitObject(std::string_view json, std::string_view what,
                   const std::function<Status(std::string_view, dom::element)>& visit) {
  simdjson::padded_string padded(json);
  dom::parser parser;
  PG_ASSIGN_OR_RETURN(dom::element doc, Parse(parser, padded));
  PG_ASSIGN_OR_RETURN(dom::object object, Object(doc, what));
  return ForEachField(object, what, visit);
}

Result<KeyChange> DecodeChange(dom::element e) {
  PG_ASSIGN_OR_RETURN(dom::object object, Object(e, "a change"));
  KeyChange change;
  std::string op;
  bool has_fingerprint = false, has_username = false, has_key = false;
  PG_RETURN_IF_ERROR(ForEachField(object, "a change", [&](std::string_view key, dom::element value) -> Status {
    if (key == "op") {
      PG_ASSIGN_OR_RETURN(op, String(value, "op"));
    } else if (key == "fingerprint") {
      PG_ASSIGN_OR_RETURN(change.fingerprint, String(value, "fingerprint"));
      has_fingerprint = true;
    } else if (key == "username") {
      PG_ASSIGN_OR_RETURN(change.username, String(value, "username"));
      has_username = true;
    } else if (key == "key") {
      PG_ASSIGN_OR_RETURN(change.key, String(value, "key"));
      has_key = true;
    }
    return Status::OK();
  }));
  if (op == "put") {
    change.op = KeyChange::Op::kPut;
    if (!has_username || !has_key) return Malformed("a put change needs username and key");
  } else if (op == "delete") {
    change.op = KeyChange::Op::kDelete;
  } else {
    return Malformed("a change's op must be \"put\" or \"delete\"");
  }
  if (!has_fingerprint) return Malformed("a change needs a fingerprint");
  return change;
}

}  // namespace

Result<KeyOwner> DecodeKeyOwner(std::string_view json) {
  KeyOwner owner;
  bool has_username = false;
  PG_RETURN_IF_ERROR(VisitObject(json, "the key owner", [&](std::string_view key, dom::element value) -> Status {
    if (key == "username") {
      PG_ASSIGN_OR_RETURN(owner.username, String(value, "username"));
      has_username = true;
    }
    return Status::OK();
  }));
  if (!has_username) return Malformed("the key owner has no username");
  return owner;
}

Result<KeyLists> DecodeKeyLists(std::string_view json) {
  KeyLists lists;
  PG_RETURN_IF_ERROR(VisitObject(json, "the key list", [&](std::string_view user, dom::element value) -> Status {
    PG_ASSIGN_OR_RETURN(dom::array keys, Array(value, "a user's keys"));
    std::vector<ListedKey>& out = lists[std::string(user)];
    for (dom::element entry : keys) {
      PG_ASSIGN_OR_RETURN(dom::object object, Object(entry, "a key entry"));
      ListedKey listed;
      bool has_key = false;
      PG_RETURN_IF_ERROR(ForEachField(object, "a key entry", [&](std::string_view key, dom::element v) -> Status {
        if (key == "key") {
          PG_ASSIGN_OR_RETURN(listed.key, String(v, "key"));
          has_key = true;
        } else if (key == "fingerprint") {
          PG_ASSIGN_OR_RETURN(listed.fingerprint, String(v, "fingerprint"));
        }
        return Status::OK();
      }));
      if (!has_key) return Malformed("a key entry has no key");
      out.push_back(std::move(listed));
    }
    return Status::OK();
  }));
  return lists;
}

Result<DeltaPage> DecodeDeltaPage(std::string_view json) {
  DeltaPage page;
  bool has_revision = false, has_more = false, has_changes = false;
  PG_RETURN_IF_ERROR(VisitObject(json, "the delta page", [&](std::string_view key, dom::element value) -> Status {
    if (key == "revision") {
      if (value.get_uint64().get(page.revision) != simdjson::SUCCESS) {
        return Malformed("revision must be a non-negative integer");
      }
      has_revision = true;
    } else if (key == "more") {
      if (value.get_bool().get(page.more) != simdjson::SUCCESS) return Malformed("more must be true or false");
      has_more = true;
    } else if (key == "changes") {
      PG_ASSIGN_OR_RETURN(dom::array changes, Array(value, "changes"));
      for (dom::element e : changes) {
        PG_ASSIGN_OR_RETURN(KeyChange change, DecodeChange(e));
        page.changes.push_back(std::move(change));
      }
      has_changes = true;
    }
    return Status::OK();
  }));
  if (!has_revision || !has_more || !has_changes) return Malformed("the delta page needs revision, more and changes");
  return page;
}

namespace {

Result<std::string> BuildId(dom::element value) {
  PG_ASSIGN_OR_RETURN(std::string id, String(value, "id"));
  if (!IsValidBuildId(id)) return Malformed("a build id must be 1-128 characters of [A-Za-z0-9._-]");
  return id;
}

Result<BuildState::Phase> Phase(std::string_view state) {
  if (state == "pending") return BuildState::Phase::kPending;
  if (state == "running") return BuildState::Phase::kRunning;
  if (state == "succeeded") return BuildState::Phase::kSucceeded;
  if (state == "failed") return BuildState::Phase::kFailed;
  if (state == "cancelled") return BuildState::Phase::kCancelled;
  return Malformed("state must be pending, running, succeeded, failed or cancelled");
}

}  // namespace

Result<std::map<std::string, bool>> DecodeAppLookup(std::string_view json) {
  std::optional<std::map<std::string, bool>> apps;
  PG_RETURN_IF_ERROR(VisitObject(json, "the app lookup", [&](std::string_view key, dom::element value) -> Status {
    if (key != "apps") return Status::OK();
    PG_ASSIGN_OR_RETURN(dom::object entries, Object(value, "apps"));
    apps.emplace();
    return ForEachField(entries, "apps", [&](std::string_view app, dom::element exists) -> Status {
      bool flag = false;
      if (exists.get_bool().get(flag) != simdjson::SUCCESS) return Malformed("apps values must be true or false");
      (*apps)[std::string(app)] = flag;
      return Status::OK();
    });
  }));
  if (!apps) return Malformed("the app lookup has no apps");
  return *apps;
}

Status CheckAppConfig(std::string_view json) {
  return VisitObject(json, "the app's config", [&](std::string_view key, dom::element value) -> Status {
    if (key == "values") return Object(value, "values").status();
    return Status::OK();
  });
}

Result<int64_t> DecodeReleaseVersion(std::string_view json) {
  std::optional<int64_t> version;
  PG_RETURN_IF_ERROR(VisitObject(json, "the release", [&](std::string_view key, dom::element value) -> Status {
    if (key != "release") return Status::OK();
    PG_ASSIGN_OR_RETURN(dom::object release, Object(value, "release"));
    return ForEachField(release, "release", [&](std::string_view field, dom::element v) -> Status {
      if (field != "version") return Status::OK();
      int64_t n = 0;
      if (v.get_int64().get(n) != simdjson::SUCCESS || n < 1) return Malformed("release.version must be a positive integer");
      version = n;
      return Status::OK();
    });
  }));
  if (!version) return Malformed("the answer names no release version");
  return *version;
}

Result<std::string> DecodeBuildResult(std::string_view json) {
  std::optional<std::string> image;
  PG_RETURN_IF_ERROR(VisitObject(json, "the build result", [&](std::string_view key, dom::element value) -> Status {
    if (key == "image") {
      PG_ASSIGN_OR_RETURN(image, String(value, "image"));
    }
    return Status::OK();
  }));
  if (!image) return Malformed("the build result names no image");
  bool valid = !image->empty() && image->size() <= 255 && std::isalnum(static_cast<unsigned char>(image->front()));
  for (char c : *image) {
    valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '/' ||
                      c == '@' || c == '-');
  }
  if (!valid) return Malformed("the build result's image \"" + Printable(*image, 80) + "\" is not an image reference");
  return *image;
}

Result<std::string> DecodeBuildCreated(std::string_view json) {
  std::optional<std::string> id;
  PG_RETURN_IF_ERROR(VisitObject(json, "the created build", [&](std::string_view key, dom::element value) -> Status {
    if (key == "id") {
      PG_ASSIGN_OR_RETURN(id, BuildId(value));
    }
    return Status::OK();
  }));
  if (!id) return Malformed("the created build has no id");
  return *id;
}

Result<BuildState> DecodeBuildState(std::string_view json) {
  BuildState build;
  bool has_id = false, has_state = false;
  PG_RETURN_IF_ERROR(VisitObject(json, "the build", [&](std::string_view key, dom::element value) -> Status {
    if (key == "id") {
      PG_ASSIGN_OR_RETURN(build.id, BuildId(value));
      has_id = true;
    } else if (key == "state") {
      PG_ASSIGN_OR_RETURN(std::string state, String(value, "state"));
      PG_ASSIGN_OR_RETURN(build.phase, Phase(state));
      has_state = true;
    } else if (key == "message") {
      if (!value.is_null()) {
        PG_ASSIGN_OR_RETURN(build.message, String(value, "message"));
      }
    } else if (key == "release") {
      if (value.is_null()) return Status::OK();
      PG_ASSIGN_OR_RETURN(dom::object release, Object(value, "release"));
      return ForEachField(release, "release", [&](std::string_view field, dom::element v) -> Status {
        if (field != "version") return Status::OK();
        int64_t version = 0;
        if (v.get_int64().get(version) != simdjson::SUCCESS || version < 0) {
          return Malformed("release.version must be a non-negative integer");
        }
        build.release_version = version;
        return Status::OK();
      });
    }
    return Status::OK();
  }));
  if (!has_id || !has_state) return Malformed("the build needs id and state");
  return build;
}

std::string DecodeErrorMessage(std::string_view body) {
  simdjson::padded_string padded(body);
  dom::parser parser;
  Result<dom::element> doc = Parse(parser, padded);
  if (!doc.ok()) {
    bool text = !body.empty() && body.size() <= 500 && body.front() != '<' && body.front() != '{';
    return text ? std::string(body) : std::string();
  }
  std::string_view text;
  // Django REST framework's get_object_or_404: a bare string.
  if (doc->get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  dom::object object;
  if (doc->get_object().get(object) != simdjson::SUCCESS) return "";
  for (const char* field : {"detail", "message"}) {
    if (object[field].get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  }
  // A serializer's validation errors: {"field": ["reason", ...]}.
  for (dom::key_value_pair field : object) {
    dom::array reasons;
    if (field.value.get_array().get(reasons) != simdjson::SUCCESS) continue;
    for (dom::element reason : reasons) {
      if (reason.get_string().get(text) == simdjson::SUCCESS) return std::string(field.key) + ": " + std::string(text);
    }
  }
  return "";
}

Result<std::map<std::string, std::string>> DecodeFlatObject(std::string_view json, std::string_view what) {
  std::map<std::string, std::string> fields;
  Status visited = VisitObject(json, what, [&](std::string_view key, dom::element value) -> Status {
    std::string_view text;
    int64_t number = 0;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      fields.emplace(key, text);
    } else if (value.get_int64().get(number) == simdjson::SUCCESS) {
      fields.emplace(key, std::to_string(number));
    } else {
      return Status::Corruption(std::string(what) + ": the field \"" + std::string(key.substr(0, 64)) +
                                "\" is neither a string nor an integer");
    }
    return Status::OK();
  });
  if (!visited.ok()) return Status::Corruption(std::string(what) + " is not a flat JSON object (" + visited.message() + ")");
  return fields;
}

}  // namespace pushgate
