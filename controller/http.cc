#include "controller/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>

#include "controller/plain_http.h"
#include "util/shared_library.h"

namespace pushgate {
namespace {

// libcurl, used for https:// only, is loaded on its first request, not at
// program start (util/shared_library.h): every program that can reach the
// controller links this module, but in standalone mode none makes a request,
// and libcurl with the TLS, LDAP, Kerberos and RTMP libraries it pulls in
// costs a process about 15 ms. The soname is libcurl's
// ABI, stable since 2006.
constexpr char kLibcurlSoname[] = "libcurl.so.4";

// The libcurl functions this adapter calls, resolved once.
struct Libcurl {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_reset) easy_reset = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
  Status status = Status::OK();  // why the library cannot be used, if it cannot
};

Status ResolveLibcurl(Libcurl* lib) {
  PG_ASSIGN_OR_RETURN(SharedLibrary so, SharedLibrary::Open(kLibcurlSoname, "controller mode (libcurl4)"));
  PG_RETURN_IF_ERROR(so.Resolve("curl_global_init", &lib->global_init));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_init", &lib->easy_init));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_cleanup", &lib->easy_cleanup));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_reset", &lib->easy_reset));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_setopt", &lib->easy_setopt));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_perform", &lib->easy_perform));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_getinfo", &lib->easy_getinfo));
  PG_RETURN_IF_ERROR(so.Resolve("curl_easy_strerror", &lib->easy_strerror));
  PG_RETURN_IF_ERROR(so.Resolve("curl_slist_append", &lib->slist_append));
  PG_RETURN_IF_ERROR(so.Resolve("curl_slist_free_all", &lib->slist_free_all));
  CURLcode init = lib->global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return Status::Internal(std::string("libcurl could not start: ") + lib->easy_strerror(init));
  return Status::OK();
}

// The loaded library; every function below runs after a request obtained it.
const Libcurl& Curl() { return ResolvedOnce<Libcurl, ResolveLibcurl>(); }

struct SlistDeleter {
  void operator()(curl_slist* list) const { Curl().slist_free_all(list); }
};

using Clock = std::chrono::steady_clock;

// On-tick callbacks run at most this often (libcurl reports progress many
// times a second while data flows).
constexpr auto kTickInterval = std::chrono::milliseconds(200);

// What the callbacks share during one transfer.
struct Transfer {
  CURL* easy;
  const HttpRequest* request;
  HttpResponse* response;
  bool too_large = false;
  Status callback_error;  // a caller's callback aborted the transfer
  Clock::time_point last_tick = Clock::now();
};

bool Is2xx(CURL* easy) {
  long status = 0;
  if (Curl().easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) return false;
  return status >= 200 && status < 300;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->request->on_body && Is2xx(t->easy)) {
    Status s = t->request->on_body(std::string_view(data, n));
    if (!s.ok()) {
      t->callback_error = std::move(s);
      return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (t->response->body.size() + n > t->request->max_body) {
    t->too_large = true;
    return 0;
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  for (;;) {
    ssize_t n = ::read(t->request->upload_fd, buffer, size * count);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    t->callback_error = Status::FromErrno(errno, "read the upload");
    return CURL_READFUNC_ABORT;
  }
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->request->on_tick) return 0;
  auto now = Clock::now();
  if (now - t->last_tick < kTickInterval) return 0;
  t->last_tick = now;
  Status s = t->request->on_tick();
  if (s.ok()) return 0;
  t->callback_error = std::move(s);
  return 1;  // CURLE_ABORTED_BY_CALLBACK
}

// The value of the header `line` if it is the (lowercase) `name:` header.
std::optional<std::string_view> HeaderValue(std::string_view line, std::string_view name) {
  if (line.size() <= name.size()) return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return std::nullopt;
  }
  std::string_view value = line.substr(name.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  return value.substr(0, 128);
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (std::optional<std::string_view> v = HeaderValue(line, "retry-after:")) {
    t->response->retry_after = std::string(v->substr(0, 64));
  } else if (std::optional<std::string_view> type = HeaderValue(line, "content-type:")) {
    t->response->content_type = std::string(*type);
  }
  return n;
}

Status CurlStatus(CURLcode rc, const char* detail, const std::string& url) {
  std::string msg = "controller request " + url + " failed: ";
  msg += (detail != nullptr && *detail != '\0') ? detail : Curl().easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return Status::Timeout(std::move(msg));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return Status::InvalidArgument(std::move(msg));
    case CURLE_OUT_OF_MEMORY: return Status::ResourceExhausted(std::move(msg));
    default: return Status::Unavailable(std::move(msg));
  }
}

// Sets libcurl options and keeps the first one libcurl refused, so that a
// setting that fails (a security one above all: allowed protocols, proxy,
// certificate checks) fails the request instead of being skipped.
class EasyOptions {
 public:
  explicit EasyOptions(CURL* easy) : easy_(easy) {}

  template <typename Value>
  void operator()(CURLoption option, Value value) {
    CURLcode rc = Curl().easy_setopt(easy_, option, value);
    if (rc != CURLE_OK && first_error_ == CURLE_OK) {
      first_error_ = rc;
      failed_option_ = option;
    }
  }

  Status status() const {
    if (first_error_ == CURLE_OK) return Status::OK();
    return Status::Internal("libcurl refused option " + std::to_string(static_cast<int>(failed_option_)) + ": " +
                            Curl().easy_strerror(first_error_));
  }

 private:
  CURL* easy_;
  CURLcode first_error_ = CURLE_OK;
  CURLoption failed_option_ = CURLOPT_URL;
};

// The gateway-wide headers followed by the request's own.
Result<std::unique_ptr<curl_slist, SlistDeleter>> HeaderList(const std::vector<std::string>& common,
                                                             const std::vector<std::string>& own) {
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const std::vector<std::string>* headers : {&common, &own}) {
    for (const std::string& h : *headers) {
      curl_slist* next = Curl().slist_append(list.get(), h.c_str());
      if (next == nullptr) return Status::ResourceExhausted("libcurl could not add a header");
      (void)list.release();  // `next` is the same list, one header longer
      list.reset(next);
    }
  }
  return list;
}

void SetMethod(EasyOptions& set, const HttpRequest& request, Transfer* transfer) {
  switch (request.method) {
    case HttpRequest::Method::kGet: set(CURLOPT_HTTPGET, 1L); break;
    case HttpRequest::Method::kHead: set(CURLOPT_NOBODY, 1L); break;
    case HttpRequest::Method::kPost:
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set(CURLOPT_COPYPOSTFIELDS, request.body.c_str());
      break;
    case HttpRequest::Method::kPut:
      set(CURLOPT_UPLOAD, 1L);
      set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.upload_size));
      set(CURLOPT_READFUNCTION, OnUpload);
      set(CURLOPT_READDATA, transfer);
      break;
  }
}

// Where the request may go and how long it may take: only http(s), never a
// redirect or a proxy from the environment, certificates checked.
void SetTransport(EasyOptions& set, const HttpOptions& options, const HttpRequest& request) {
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_NOPROXY, "*");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.value_or(options.timeout).count()));
  if (request.stall_timeout.count() > 0) {
    set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(request.stall_timeout).count()));
  }
  // A log stream may be silent for minutes while a build runs; TCP
  // keepalives notice a peer that vanished without closing.
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_TCP_KEEPIDLE, 30L);
  set(CURLOPT_TCP_KEEPINTVL, 10L);
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) set(CURLOPT_CAINFO, options.ca_file.c_str());
  set(CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl can decode
  if (!request.on_body && request.method != HttpRequest::Method::kHead) {
    // A declared Content-Length over the limit fails before any byte is
    // read; OnBody enforces the same limit on chunked or compressed answers.
    // (A HEAD answer's length is the resource's, and it has no body.)
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body));
  }
}

void SetCallbacks(EasyOptions& set, Transfer* transfer) {
  set(CURLOPT_WRITEFUNCTION, OnBody);
  set(CURLOPT_WRITEDATA, transfer);
  set(CURLOPT_HEADERFUNCTION, OnHeader);
  set(CURLOPT_HEADERDATA, transfer);
  set(CURLOPT_NOPROGRESS, 0L);
  set(CURLOPT_XFERINFOFUNCTION, OnProgress);
  set(CURLOPT_XFERINFODATA, transfer);
}

}  // namespace

bool HttpResponse::IsJson() const {
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    type += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json" || (type.size() > 5 && type.substr(type.size() - 5) == "+json");
}

struct HttpClient::Handle {
  struct EasyDeleter {
    void operator()(CURL* c) const { Curl().easy_cleanup(c); }
  };
  std::unique_ptr<CURL, EasyDeleter> easy;  // https://
  std::unique_ptr<PlainHttpClient> plain;   // http://
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)), handle_(new Handle) {
  if (options_.base_url.rfind("http://", 0) == 0) handle_->plain = std::make_unique<PlainHttpClient>(options_);
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Get(std::string_view path, size_t max_body, std::vector<std::string> headers) {
  HttpRequest request;
  request.path = std::string(path);
  request.max_body = max_body;
  request.headers = std::move(headers);
  return Perform(request);
}

Result<HttpResponse> HttpClient::Perform(const HttpRequest& request) {
  if (handle_->plain) return handle_->plain->Perform(request);
  PG_RETURN_IF_ERROR(Curl().status);
  if (!handle_->easy) {
    handle_->easy.reset(Curl().easy_init());
    if (!handle_->easy) return Status::ResourceExhausted("libcurl could not create a handle");
  }
  CURL* c = handle_->easy.get();
  // Every option is set anew for each request; the connection stays cached.
  Curl().easy_reset(c);
  using HeaderListPtr = std::unique_ptr<curl_slist, SlistDeleter>;
  PG_ASSIGN_OR_RETURN(HeaderListPtr header_list, HeaderList(options_.headers, request.headers));
  std::string url = options_.base_url + request.path;
  HttpResponse response;
  Transfer transfer{c, &request, &response, false, Status::OK(), Clock::now()};
  char error[CURL_ERROR_SIZE] = "";
  EasyOptions set(c);
  set(CURLOPT_URL, url.c_str());
  SetMethod(set, request, &transfer);
  set(CURLOPT_HTTPHEADER, header_list.get());
  SetTransport(set, options_, request);
  SetCallbacks(set, &transfer);
  set(CURLOPT_ERRORBUFFER, error);
  PG_RETURN_IF_ERROR(set.status().Annotate("controller request " + url));
  CURLcode rc = Curl().easy_perform(c);
  (void)Curl().easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);  // cannot fail: clearing a pointer
  if (!transfer.callback_error.ok()) return transfer.callback_error;
  if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Status::ResourceExhausted("the controller's answer to " + url + " is larger than " +
                                     std::to_string(request.max_body) + " bytes");
  }
  if (rc != CURLE_OK) return CurlStatus(rc, error, url);
  if (Curl().easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status) != CURLE_OK) {
    return Status::Internal("libcurl did not report the status of " + url);
  }
  return response;
}

}  // namespace pushgate
