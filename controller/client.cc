#include "controller/client.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>

#include "controller/json.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/names.h"

namespace pushgate {
namespace {

constexpr size_t kSmallAnswer = 1 << 20;       // one user's keys, an app's config, a release
// A Workflow controller's key owner answer lists every app of the cluster:
// no small cap may deny logins on a cluster with many apps.
constexpr size_t kKeyOwnerAnswer = 64 << 20;
constexpr size_t kDeltaPageAnswer = 64 << 20;  // a page of up to `limit` changes
constexpr size_t kAppKeysAnswer = 16 << 20;    // every member's keys; an app lookup of 1,000 names
// An upload may take as long as it needs while bytes flow; this much silence
// means the controller or the network is stuck.
constexpr Duration kUploadStall = std::chrono::seconds(30);
constexpr size_t kMessageChars = 300;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status Unexpected(const HttpResponse& r, std::string_view what) {
  std::string msg = "the controller answered " + std::to_string(r.status) + " to " + std::string(what);
  if (r.status == 401) msg += " (is controller.token_file right?)";
  return Status::Unavailable(msg);
}

bool IsMd5Fingerprint(std::string_view fp) {
  if (fp.size() != 47) return false;
  for (size_t i = 0; i < fp.size(); ++i) {
    char c = fp[i];
    bool ok = (i % 3 == 2) ? c == ':' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

bool IsSourceDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A 404 or 405 that is not the API's JSON: the controller has no such route
// (an older or different controller, or controller.url names the wrong path).
bool MissingRoute(const HttpResponse& r) { return (r.status == 404 || r.status == 405) && !r.IsJson(); }

Status NotImplemented(std::string_view route, std::string_view advice) {
  return Status::Unimplemented("the controller does not implement " + std::string(route) + "; " +
                               std::string(advice));
}

constexpr std::string_view kCheckUrl = "check controller.url";

// GET /v2/hooks/keys/{app}[/{user}] answers; `user`'s keys when given.
Result<AppAccess> AccessFrom(const HttpResponse& r, std::string_view user) {
  AppAccess access;
  if (MissingRoute(r)) return NotImplemented("GET /v2/hooks/keys", kCheckUrl);
  if (r.status == 404) return access;
  if (r.status == 403) {
    access.kind = AppAccess::Kind::kForbidden;
    return access;
  }
  if (r.status != 200) return Unexpected(r, "an access check");
  Result<KeyLists> lists = DecodeKeyLists(r.body);
  if (!lists.ok()) return Status::Unavailable(lists.status().message());
  access.kind = AppAccess::Kind::kAllowed;
  auto it = lists->find(std::string(user));
  if (!user.empty() && it != lists->end()) access.keys = std::move(it->second);
  return access;
}

// The controller's reason, from its JSON only: an HTML page is never shown.
std::string ErrorMessage(const HttpResponse& r) {
  return r.IsJson() ? Printable(DecodeErrorMessage(r.body), kMessageChars) : "";
}

}  // namespace

std::string AuthHeaderLine(std::string_view header, std::string_view token) {
  std::string value(token);
  if (EqualsIgnoreCase(header, "Authorization") && value.rfind("Bearer ", 0) != 0) value = "Bearer " + value;
  return std::string(header) + ": " + value;
}

std::string EncodePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : segment) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<std::unique_ptr<ControllerClient>> ControllerClient::Create(const ControllerConfig& config) {
  HttpOptions options;
  options.base_url = config.url;
  options.headers = {"Accept: application/json", "User-Agent: pushgate"};
  options.ca_file = config.ca_file;
  options.connect_timeout = config.connect_timeout;
  options.timeout = config.timeout;
  std::unique_ptr<ControllerClient> client(new ControllerClient(std::move(options), config));
  PG_RETURN_IF_ERROR(client->ReadToken());
  return client;
}

Status ControllerClient::ReadToken() {
  const std::string& path = config_.token_file;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot read controller.token_file " + path);
  TokenFileState state{static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                       static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size)};
  if (state == token_state_) return Status::OK();
  Result<std::string> token = ReadSmallFile(path, 64 * 1024);
  if (!token.ok()) return token.status().Annotate("cannot read controller.token_file");
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r' || token->back() == ' ')) {
    token->pop_back();
  }
  if (token->empty()) return Status::InvalidArgument(path + " is empty");
  if (token->find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument(path + " must hold the token on one line");
  }
  auth_line_ = AuthHeaderLine(config_.auth_header, *token);
  token_state_ = state;
  return Status::OK();
}

Result<FeedAnswer> ControllerClient::FetchKeys(uint64_t since, size_t limit, bool snapshot) {
  std::string path = "/v2/hooks/keys?since=" + std::to_string(since) + "&limit=" + std::to_string(limit);
  if (snapshot) path += "&snapshot=1";
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Get(path, kDeltaPageAnswer, RequestHeaders()));
  FeedAnswer answer;
  if (r.status == 404) {  // a Workflow controller: it has /v2/hooks/keys/{app} but no feed
    answer.kind = FeedAnswer::Kind::kUnsupported;
    return answer;
  }
  if (r.status == 410) {
    answer.kind = FeedAnswer::Kind::kGone;
    return answer;
  }
  if (r.status != 200) return Unexpected(r, "the key feed");
  Result<DeltaPage> page = DecodeDeltaPage(r.body);
  if (!page.ok()) return Status::Unavailable(page.status().message());
  answer.page = std::move(page).value();
  return answer;
}

Result<std::optional<KeyOwner>> ControllerClient::LookupKeyOwner(std::string_view md5_fingerprint) {
  if (!IsMd5Fingerprint(md5_fingerprint)) return Status::InvalidArgument("not an MD5 fingerprint");
  PG_ASSIGN_OR_RETURN(HttpResponse r,
                      http_.Get("/v2/hooks/key/" + std::string(md5_fingerprint), kKeyOwnerAnswer, RequestHeaders()));
  if (MissingRoute(r)) return NotImplemented("GET /v2/hooks/key", kCheckUrl);
  if (r.status == 404) return std::optional<KeyOwner>();
  if (r.status != 200) return Unexpected(r, "a key lookup");
  Result<KeyOwner> owner = DecodeKeyOwner(r.body);
  if (!owner.ok()) return Status::Unavailable(owner.status().message());
  return std::optional<KeyOwner>(std::move(owner).value());
}

Result<AppAccess> ControllerClient::AppUserKeys(std::string_view app, std::string_view user) {
  if (!IsValidAppName(app) || !IsValidUserName(user)) return Status::InvalidArgument("invalid app or user name");
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Get("/v2/hooks/keys/" + std::string(app) + "/" + EncodePathSegment(user),
                                                kSmallAnswer, RequestHeaders()));
  PG_ASSIGN_OR_RETURN(AppAccess access, AccessFrom(r, user));
  // Workflow answers 404 for a user it does not know ("No User matches the
  // given query.") and for one without keys ("No Keys match ..."): neither
  // means the app is missing.
  std::string reason = DecodeErrorMessage(r.body);
  if (access.kind == AppAccess::Kind::kNoSuchApp &&
      (reason.find("No User") != std::string::npos || reason.find("No Keys") != std::string::npos)) {
    access.kind = AppAccess::Kind::kForbidden;
  }
  return access;
}

Result<AppAccess> ControllerClient::AppKeys(std::string_view app) {
  if (!IsValidAppName(app)) return Status::InvalidArgument("invalid app name");
  PG_ASSIGN_OR_RETURN(HttpResponse r,
                      http_.Get("/v2/hooks/keys/" + std::string(app), kAppKeysAnswer, RequestHeaders()));
  return AccessFrom(r, "");
}

Result<std::optional<std::map<std::string, bool>>> ControllerClient::LookupApps(const std::vector<std::string>& apps) {
  HttpRequest request;
  request.method = HttpRequest::Method::kPost;
  request.path = "/v2/hooks/apps/lookup";
  request.headers = RequestHeaders();
  request.headers.push_back("Content-Type: application/json");
  request.body = "{\"apps\":[";
  for (size_t i = 0; i < apps.size(); ++i) {
    if (!IsValidAppName(apps[i])) return Status::InvalidArgument("invalid app name");
    if (i > 0) request.body += ",";
    AppendJsonString(request.body, apps[i]);
  }
  request.body += "]}";
  request.max_body = kAppKeysAnswer;
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (r.status == 404 || r.status == 405) return std::optional<std::map<std::string, bool>>();
  if (r.status != 200) return Unexpected(r, "an app lookup");
  Result<std::map<std::string, bool>> found = DecodeAppLookup(r.body);
  if (!found.ok()) return Status::Unavailable(found.status().message());
  return std::optional<std::map<std::string, bool>>(std::move(found).value());
}

std::vector<std::string> ControllerClient::RequestHeaders() {
  // A token file being replaced right now reads as missing or empty for a
  // moment: the token read last is kept until a good one is there.
  Status fresh = ReadToken();
  if (!fresh.ok() && !auth_line_.empty()) token_state_ = TokenFileState{};
  std::vector<std::string> headers = {auth_line_};
  if (!request_id_.empty()) headers.push_back("X-Request-Id: " + Printable(request_id_, 64));
  return headers;
}

Result<HookAnswer> ControllerClient::PostHook(std::string_view route, std::string body,
                                              std::optional<Duration> timeout,
                                              const std::function<Status()>& on_tick) {
  HttpRequest request;
  request.method = HttpRequest::Method::kPost;
  request.path = std::string(route);
  request.headers = RequestHeaders();
  request.headers.push_back("Content-Type: application/json");
  request.body = std::move(body);
  request.max_body = kSmallAnswer;
  request.timeout = timeout;
  request.on_tick = on_tick;
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (MissingRoute(r)) {
    return NotImplemented("POST " + std::string(route),
                          "it is not a Deis Workflow, Hephy or Drycc controller, or controller.url is wrong");
  }
  HookAnswer answer;
  answer.message = ErrorMessage(r);
  switch (r.status) {
    case 200:
    case 201: answer.body = std::move(r.body); return answer;
    case 403: answer.kind = HookAnswer::Kind::kForbidden; return answer;
    case 404: answer.kind = HookAnswer::Kind::kNoSuchApp; return answer;
    default:
      if (r.status < 400 || r.status >= 500 || r.status == 401 || r.status == 408 || r.status == 429) {
        Status unexpected = Unexpected(r, "POST " + std::string(route));
        return answer.message.empty() ? unexpected : Status::Unavailable(unexpected.message() + ": " + answer.message);
      }
      answer.kind = HookAnswer::Kind::kRefused;
      return answer;
  }
}

Result<HookAnswer> ControllerClient::FetchAppConfig(std::string_view app, std::string_view user) {
  if (!IsValidAppName(app) || !IsValidUserName(user)) return Status::InvalidArgument("invalid app or user name");
  std::string body = JsonObject().Add("receive_user", user).Add("receive_repo", app).Finish();
  PG_ASSIGN_OR_RETURN(HookAnswer answer, PostHook("/v2/hooks/config", std::move(body), std::nullopt, {}));
  if (answer.kind == HookAnswer::Kind::kOk) {
    Status shape = CheckAppConfig(answer.body);
    if (!shape.ok()) return Status::Unavailable(shape.message());
  }
  return answer;
}

Result<HookAnswer> ControllerClient::PublishBuild(const WorkflowBuild& build, Duration timeout,
                                                  const std::function<Status()>& on_tick) {
  if (!IsValidAppName(build.app) || !IsValidUserName(build.username)) {
    return Status::InvalidArgument("invalid app or user name");
  }
  JsonObject procfile;
  for (const auto& [type, command] : build.procfile) procfile.Add(type, command);
  std::string body = JsonObject()
                         .Add("receive_user", build.username)
                         .Add("receive_repo", build.app)
                         .Add("sha", build.short_sha)
                         .Add("image", build.image)
                         .AddRaw("procfile", procfile.Finish())
                         // The stock builder's own value: "true" if there is a Dockerfile.
                         .Add("dockerfile", build.dockerfile ? "true" : "")
                         .Finish();
  return PostHook("/v2/hooks/build", std::move(body), timeout, on_tick);
}

Result<bool> ControllerClient::HasSource(std::string_view digest) {
  if (!IsSourceDigest(digest)) return Status::InvalidArgument("not a source digest");
  HttpRequest request;
  request.method = HttpRequest::Method::kHead;
  request.path = "/v2/hooks/sources/" + std::string(digest);
  request.headers = RequestHeaders();
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (r.status == 200) return true;
  if (MissingRoute(r)) {
    return NotImplemented("pushgate's build API (HEAD /v2/hooks/sources)",
                          "for a stock Deis Workflow, Hephy or Drycc controller set build.driver = \"workflow\"");
  }
  if (r.status == 404) return false;
  return Unexpected(r, "a source check");
}

Status ControllerClient::UploadSource(std::string_view digest, int fd, const StreamCallbacks& callbacks) {
  if (!IsSourceDigest(digest)) return Status::InvalidArgument("not a source digest");
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat the source archive");
  HttpRequest request;
  request.method = HttpRequest::Method::kPut;
  request.path = "/v2/hooks/sources/" + std::string(digest);
  request.headers = RequestHeaders();
  request.headers.push_back("Content-Type: application/gzip");
  request.upload_fd = fd;
  request.upload_size = static_cast<uint64_t>(st.st_size);
  request.timeout = Duration(0);
  request.stall_timeout = kUploadStall;
  request.on_tick = callbacks.on_tick;
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (r.status == 200 || r.status == 201) return Status::OK();
  if (r.status >= 400 && r.status < 500 && r.status != 401 && r.status != 408 && r.status != 429) {
    std::string why = ErrorMessage(r);
    return Status::InvalidArgument("the controller refused the source (" + std::to_string(r.status) + ")" +
                                   (why.empty() ? "" : ": " + why));
  }
  return Unexpected(r, "the source upload");
}

Result<BuildAdmission> ControllerClient::CreateBuild(const BuildSpec& spec) {
  HttpRequest request;
  request.method = HttpRequest::Method::kPost;
  request.path = "/v2/hooks/builds";
  request.headers = RequestHeaders();
  request.headers.push_back("Content-Type: application/json");
  request.body = JsonObject()
                     .Add("app", spec.app)
                     .Add("username", spec.username)
                     .Add("sha", spec.sha)
                     .Add("ref", spec.ref)
                     .Add("source", spec.source)
                     .Add("request_id", spec.request_id)
                     .AddRaw("push_options", JsonStringArray(spec.push_options))
                     .Finish();
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (MissingRoute(r)) {
    return NotImplemented("pushgate's build API (POST /v2/hooks/builds)",
                          "for a stock Deis Workflow, Hephy or Drycc controller set build.driver = \"workflow\"");
  }
  BuildAdmission admission;
  switch (r.status) {
    case 200:
    case 201: {
      Result<std::string> id = DecodeBuildCreated(r.body);
      if (!id.ok()) return Status::Unavailable(id.status().message());
      admission.id = std::move(id).value();
      return admission;
    }
    case 403: admission.kind = BuildAdmission::Kind::kForbidden; break;
    case 404: admission.kind = BuildAdmission::Kind::kNoSuchApp; break;
    case 409: admission.kind = BuildAdmission::Kind::kBusy; break;
    case 429: admission.kind = BuildAdmission::Kind::kQuota; break;
    default:
      if (r.status < 400 || r.status >= 500 || r.status == 401 || r.status == 408) {
        return Unexpected(r, "the build request");
      }
      admission.kind = BuildAdmission::Kind::kRejected;
  }
  admission.message = ErrorMessage(r);
  admission.retry_after = Printable(r.retry_after, 64);
  return admission;
}

Result<BuildState> ControllerClient::GetBuild(std::string_view id) {
  if (!IsValidBuildId(id)) return Status::InvalidArgument("not a build id");
  HttpRequest request;
  request.path = "/v2/hooks/builds/" + std::string(id);
  request.headers = RequestHeaders();
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (r.status == 404) return Status::NotFound("the controller does not know build " + Printable(id, 128));
  if (r.status != 200) return Unexpected(r, "a build status request");
  Result<BuildState> state = DecodeBuildState(r.body);
  if (!state.ok()) return Status::Unavailable(state.status().message());
  state->message = Printable(state->message, kMessageChars);
  return state;
}

Status ControllerClient::CancelBuild(std::string_view id) {
  if (!IsValidBuildId(id)) return Status::InvalidArgument("not a build id");
  HttpRequest request;
  request.method = HttpRequest::Method::kPost;
  request.path = "/v2/hooks/builds/" + std::string(id) + "/cancel";
  request.headers = RequestHeaders();
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (MissingRoute(r)) {
    return NotImplemented("POST /v2/hooks/builds/{id}/cancel", "the build goes on until it ends on the platform");
  }
  if (r.status == 200 || r.status == 202 || r.status == 204) return Status::OK();
  if (r.status == 409) return Status::AlreadyExists("build " + Printable(id, 128) + " had already ended");
  if (r.status == 404) return Status::NotFound("the controller does not know build " + Printable(id, 128));
  return Unexpected(r, "a build cancel request");
}

Status ControllerClient::StreamBuildLog(std::string_view id, uint64_t offset, const StreamCallbacks& callbacks) {
  if (!IsValidBuildId(id)) return Status::InvalidArgument("not a build id");
  HttpRequest request;
  request.path = "/v2/hooks/builds/" + std::string(id) + "/logs?offset=" + std::to_string(offset);
  request.headers = RequestHeaders();
  request.timeout = Duration(0);
  request.on_body = callbacks.on_data;
  request.on_tick = callbacks.on_tick;
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Perform(request));
  if (r.status == 404) return Status::NotFound("the controller does not know build " + Printable(id, 128));
  if (r.status != 200) return Unexpected(r, "the build log");
  return Status::OK();
}

}  // namespace pushgate
