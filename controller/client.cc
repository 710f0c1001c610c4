#include "controller/client.h"

#include <cctype>

#include "controller/json.h"
#include "util/fs.h"
#include "util/names.h"

namespace pushgate {
namespace {

constexpr size_t kSmallAnswer = 1 << 20;      // key owner, app keys
constexpr size_t kDeltaPageAnswer = 64 << 20;  // a page of up to `limit` changes

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

}  // namespace

std::string AuthHeaderLine(std::string_view header, std::string_view token) {
  std::string value(token);
  if (EqualsIgnoreCase(header, "Authorization") && value.rfind("Bearer ", 0) != 0) value = "Bearer " + value;
  return std::string(header) + ": " + value;
}

Result<std::unique_ptr<ControllerClient>> ControllerClient::Create(const ControllerConfig& config) {
  Result<std::string> token = ReadSmallFile(config.token_file, 64 * 1024);
  if (!token.ok()) return token.status().Annotate("cannot read controller.token_file");
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r' || token->back() == ' ')) {
    token->pop_back();
  }
  if (token->empty()) return Status::InvalidArgument(config.token_file + " is empty");
  if (token->find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument(config.token_file + " must hold the token on one line");
  }
  HttpOptions options;
  options.base_url = config.url;
  options.headers = {AuthHeaderLine(config.auth_header, *token), "Accept: application/json",
                     "User-Agent: pushgate"};
  options.ca_file = config.ca_file;
  options.connect_timeout = config.connect_timeout;
  options.timeout = config.timeout;
  return std::unique_ptr<ControllerClient>(new ControllerClient(std::move(options)));
}

Result<FeedAnswer> ControllerClient::FetchKeys(uint64_t since, size_t limit, bool snapshot) {
  std::string path = "/v2/hooks/keys?since=" + std::to_string(since) + "&limit=" + std::to_string(limit);
  if (snapshot) path += "&snapshot=1";
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Get(path, kDeltaPageAnswer));
  FeedAnswer answer;
  if (r.status == 404) {
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
  PG_ASSIGN_OR_RETURN(HttpResponse r, http_.Get("/v2/hooks/key/" + std::string(md5_fingerprint), kSmallAnswer));
  if (r.status == 404) return std::optional<KeyOwner>();
  if (r.status != 200) return Unexpected(r, "a key lookup");
  Result<KeyOwner> owner = DecodeKeyOwner(r.body);
  if (!owner.ok()) return Status::Unavailable(owner.status().message());
  return std::optional<KeyOwner>(std::move(owner).value());
}

Result<AppAccess> ControllerClient::AppUserKeys(std::string_view app, std::string_view user) {
  if (!IsValidAppName(app) || !IsValidUserName(user)) return Status::InvalidArgument("invalid app or user name");
  PG_ASSIGN_OR_RETURN(HttpResponse r,
                      http_.Get("/v2/hooks/keys/" + std::string(app) + "/" + std::string(user), kSmallAnswer));
  AppAccess access;
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
  if (it != lists->end()) access.keys = std::move(it->second);
  return access;
}

}  // namespace pushgate
