#include "controller/http.h"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace pushgate {
namespace {

void EnsureCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// What the write and header callbacks fill in.
struct Transfer {
  HttpResponse* response;
  size_t max_body;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->response->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    }
    if (match) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      t->response->retry_after = std::string(value.substr(0, 64));
    }
  }
  return n;
}

Status CurlStatus(CURLcode rc, const char* detail, const std::string& url) {
  std::string msg = "controller request " + url + " failed: ";
  msg += (detail != nullptr && *detail != '\0') ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return Status::Timeout(std::move(msg));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return Status::InvalidArgument(std::move(msg));
    case CURLE_OUT_OF_MEMORY: return Status::ResourceExhausted(std::move(msg));
    default: return Status::Unavailable(std::move(msg));
  }
}

}  // namespace

struct HttpClient::Handle {
  struct EasyDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)), handle_(new Handle) {}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Get(std::string_view path, size_t max_body) {
  EnsureCurl();
  if (!handle_->easy) {
    handle_->easy.reset(curl_easy_init());
    if (!handle_->easy) return Status::ResourceExhausted("libcurl could not create a handle");
    curl_slist* list = nullptr;
    for (const std::string& h : options_.headers) {
      curl_slist* next = curl_slist_append(list, h.c_str());
      if (next == nullptr) {
        curl_slist_free_all(list);
        return Status::ResourceExhausted("libcurl could not add a header");
      }
      list = next;
    }
    handle_->headers.reset(list);
  }
  CURL* c = handle_->easy.get();
  std::string url = options_.base_url + std::string(path);
  HttpResponse response;
  Transfer transfer{&response, max_body};
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, handle_->headers.get());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl can decode
  // A declared Content-Length over the limit fails before any byte is read;
  // OnBody enforces the same limit on chunked or compressed answers.
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_body));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Status::ResourceExhausted("the controller's answer to " + url + " is larger than " +
                                     std::to_string(max_body) + " bytes");
  }
  if (rc != CURLE_OK) return CurlStatus(rc, error, url);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace pushgate
