// The http:// transport of HttpClient (http.h): HTTP/1.1 over one kept-alive
// TCP connection, with the same promises as the libcurl transport used for
// https:// (timeouts, stall limit, ticks, size limits, no redirects or
// proxies).
//
// Why not libcurl for plain http too: loading libcurl and the TLS, LDAP,
// Kerberos and other libraries it needs took about 15 ms of every process
// that talks to the controller, and a push runs two of them (the shell's
// access check, the hook). A controller inside the cluster is reached over
// plain http; this client needs nothing beyond libc.
#ifndef PUSHGATE_CONTROLLER_PLAIN_HTTP_H_
#define PUSHGATE_CONTROLLER_PLAIN_HTTP_H_

#include "controller/http.h"
#include "controller/http1.h"
#include "util/fd.h"
#include "util/status.h"

namespace pushgate {

class PlainHttpClient {
 public:
  // options.base_url must be http://; a malformed one fails every request.
  explicit PlainHttpClient(const HttpOptions& options);

  Result<HttpResponse> Perform(const HttpRequest& request);

 private:
  // One request and its answer on connection_ (opened if there is none).
  // `answered` says whether any byte of an answer arrived.
  Result<HttpResponse> Exchange(const HttpRequest& request, bool* answered);

  HttpOptions options_;
  Result<HttpUrl> url_;
  UniqueFd connection_;  // kept open between requests while the server allows
};

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_PLAIN_HTTP_H_
