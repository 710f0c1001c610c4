// HTTP/1.1 message syntax for the plain-http controller client
// (plain_http.h): the controller URL split into where to connect and what to
// send, a request head built from checked parts, and a response parser fed
// bytes as they arrive. No I/O here, so every rule is unit-tested and fuzzed
// (fuzz/http_response_fuzz.cc).
//
// The parser is strict where leniency would let a peer smuggle or overrun:
// the status line, header names and chunk sizes are checked, the head and
// trailers are bounded, conflicting Content-Lengths are an error, and a
// transfer or content coding the client did not ask for is refused rather
// than handed on as if it were the body.
#ifndef PUSHGATE_CONTROLLER_HTTP1_H_
#define PUSHGATE_CONTROLLER_HTTP1_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace pushgate {

// "http://HOST[:PORT][/PREFIX]": HOST a name, an IPv4 address or a bracketed
// IPv6 one; no credentials, query or fragment (the token travels in a
// header, from a file that is not world-readable).
struct HttpUrl {
  std::string host;       // without brackets: what getaddrinfo takes
  std::string port;       // "80" when the URL names none
  std::string authority;  // the Host header: as written in the URL
  std::string prefix;     // "" or "/api": put before every request's path
};
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// The request line and headers, ending in the empty line. `body_size` is
// sent as Content-Length when set. Every header must be "Name: value" with
// a token name and no CR, LF or NUL anywhere, and the path must start with
// '/' and hold no space or control character: nothing a caller passes can
// add a header or a second request.
Result<std::string> FormatRequestHead(std::string_view method, const HttpUrl& url, std::string_view path,
                                      const std::vector<std::string>& headers, std::optional<uint64_t> body_size);

// What the client keeps from a response's head.
struct HttpResponseHead {
  int status = 0;
  std::string retry_after;   // cut to 64 characters
  std::string content_type;  // cut to 128 characters
  std::optional<uint64_t> content_length;
};

class HttpResponseParser {
 public:
  // Body bytes, passed on as they are decoded; an error stops the parse.
  using BodySink = std::function<Status(std::string_view)>;

  // A HEAD request's answer has no body whatever its headers say.
  explicit HttpResponseParser(bool head_request) : head_request_(head_request) {}

  // Consumes `data`. Errors are Unavailable (not HTTP, or framing the client
  // does not speak) or what `sink` returned.
  Status Feed(std::string_view data, const BodySink& sink);
  // The peer closed the connection: ends a body delimited by the close, and
  // is an error anywhere else before done().
  Status FinishAtClose();

  bool head_done() const { return state_ > State::kHeaders; }
  bool done() const { return state_ == State::kDone; }
  // done(), and the connection may carry the next request: HTTP/1.1, no
  // "Connection: close", a framed body and no stray bytes after it.
  bool reusable() const { return done() && keep_alive_ && !stray_bytes_; }
  const HttpResponseHead& head() const { return head_; }
  // Once head_done(): the length of the body that follows, if the head
  // says it: 0 for a HEAD request's answer, a 204 or a 304 whatever their
  // Content-Length (which then describes the resource, not this answer).
  std::optional<uint64_t> body_length() const { return body_length_; }

 private:
  enum class State { kStatusLine, kHeaders, kLength, kChunkSize, kChunkData, kChunkEnd, kTrailers, kUntilClose, kDone };

  // Takes one line (CRLF or LF ended) into line_; false if more bytes are needed.
  Result<bool> TakeLine(std::string_view& data, size_t limit);
  Status OnStatusLine();
  Status OnHeader();
  Status OnHeadEnd();
  Status OnChunkSize();

  bool head_request_;
  State state_ = State::kStatusLine;
  HttpResponseHead head_;
  std::string line_;
  size_t line_bytes_ = 0;   // the last whole line as it came, line end included
  size_t head_bytes_ = 0;   // of this head (or the trailers), against kMaxHeadBytes
  uint64_t remaining_ = 0;  // of the body or the chunk
  std::optional<uint64_t> body_length_;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool stray_bytes_ = false;
};

}  // namespace pushgate

#endif  // PUSHGATE_CONTROLLER_HTTP1_H_
