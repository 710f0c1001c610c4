// A small HTTP client for the platform controller. An https:// controller is
// reached through libcurl (http.cc is the one adapter to it), an http:// one
// through pushgate's own HTTP/1.1 client (plain_http.h), which needs no
// library: most controllers sit in the cluster, behind plain http, and
// loading libcurl cost each process that talks to them about 15 ms.
//
// TLS peer and host verification are always on (ca_file adds a private CA).
// Redirects are not followed, only http and https are spoken, proxies from
// the environment are ignored (the keys helper runs its sync with an empty
// environment; every pushgate process must reach the controller the same
// way), and every request has a connect and a total timeout, so a stalled
// controller costs at most `timeout`. Answers larger than the request's
// `max_body` are refused. One HttpClient reuses its connection across requests.
//
// Long transfers (a source upload, a build log held open for the length of a
// build) stream: the request body is read from a file descriptor, the answer
// handed to a callback as it arrives, and a tick callback runs about once a
// second so the caller can keep the pusher's session alive or give up.
#ifndef PUSHGATE_CONTROLLER_HTTP_H_
#define PUSHGATE_CONTROLLER_HTTP_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/duration.h"
#include "util/status.h"

namespace pushgate {

struct HttpOptions {
  std::string base_url;              // "https://controller.example.com"
  std::vector<std::string> headers;  // "Name: value", sent with every request
  std::string ca_file;               // empty: the system's CA bundle
  Duration connect_timeout = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(3);
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string retry_after;   // the Retry-After header, if any
  std::string content_type;  // the Content-Type header, if any

  // A JSON answer (application/json, or +json): the API speaking. An HTML
  // 404 is a web server's or a framework's page for a path it does not route.
  bool IsJson() const;
};

struct HttpRequest {
  enum class Method { kGet, kHead, kPost, kPut };
  Method method = Method::kGet;
  std::string path;                  // starts with '/'
  std::vector<std::string> headers;  // added to HttpOptions::headers
  std::string body;                  // kPost
  int upload_fd = -1;                // kPut: the body is read from here...
  uint64_t upload_size = 0;          // ...this many bytes
  size_t max_body = 1 << 20;         // a buffered answer larger than this is refused
  // When set, the body of a 2xx answer is passed here as it arrives instead
  // of being buffered; an error aborts the transfer and is returned.
  std::function<Status(std::string_view)> on_body;
  // Runs about once a second during the transfer; an error aborts it.
  std::function<Status()> on_tick;
  // Replaces HttpOptions::timeout; zero means no limit on the whole transfer.
  std::optional<Duration> timeout;
  // Aborts a transfer during which no byte moved for this long (zero: never).
  Duration stall_timeout{0};
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `path` starts with '/'; any HTTP status is a successful Result, errors
  // are transport failures: Timeout, Unavailable (connect, reset, TLS),
  // ResourceExhausted (answer too large).
  Result<HttpResponse> Get(std::string_view path, size_t max_body, std::vector<std::string> headers = {});
  Result<HttpResponse> Perform(const HttpRequest& request);

  const HttpOptions& options() const { return options_; }

 private:
  struct Handle;
  HttpOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_HTTP_H_
