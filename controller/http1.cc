#include "controller/http1.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "util/names.h"

namespace pushgate {
namespace {

// A controller's head is a few hundred bytes; this leaves room for proxies'
// headers and refuses a peer that sends headers without end.
constexpr size_t kMaxHeadBytes = 64 << 10;
constexpr size_t kMaxChunkSizeLine = 1024;

Status NotHttp(const std::string& why) { return Status::Unavailable("the answer is not HTTP/1.1 as expected: " + why); }

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Each comma-separated element of a list header, trimmed and lowercased.
std::vector<std::string> ListElements(std::string_view value) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view element = Trim(value.substr(0, comma));
    if (!element.empty()) out.push_back(Lower(element));
    if (comma == std::string_view::npos) return out;
    value.remove_prefix(comma + 1);
  }
}

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;  // 18 digits cannot overflow
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool IsHostName(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

bool HasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("controller URL \"" + std::string(url) + "\": " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return bad("not an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported; the token is read from controller.token_file");
  }
  if (out.prefix.find_first_of("?#") != std::string::npos || HasControlOrSpace(out.prefix)) {
    return bad("a query, fragment, space or control character in the path");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address without its ']'");
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("characters after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
    host = host.substr(1, close - 1);
    in6_addr v6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) return bad("not an IPv6 address in brackets");
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!IsHostName(host)) return bad("not a host name or address");
  }
  if (port.data() != nullptr) {
    std::optional<uint64_t> n = ParseDecimal(port);
    if (!n || *n == 0 || *n > 65535) return bad("the port must be 1 to 65535");
  }
  out.host = std::string(host);
  out.port = port.empty() ? "80" : std::string(port);
  out.authority = std::string(authority);
  return out;
}

Result<std::string> FormatRequestHead(std::string_view method, const HttpUrl& url, std::string_view path,
                                      const std::vector<std::string>& headers, std::optional<uint64_t> body_size) {
  if (path.empty() || path.front() != '/' || HasControlOrSpace(path)) {
    return Status::InvalidArgument("request path \"" + std::string(path) + "\" is not an absolute path without spaces");
  }
  std::string head;
  head.reserve(256);
  head.append(method).append(" ").append(url.prefix).append(path).append(" HTTP/1.1\r\nHost: ");
  head.append(url.authority).append("\r\n");
  for (const std::string& h : headers) {
    size_t colon = h.find(':');
    bool clean = h.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
    if (colon == std::string::npos || !IsToken(std::string_view(h).substr(0, colon)) || !clean) {
      // The name only: a header's value may be a token.
      return Status::InvalidArgument("request header \"" + Printable(h.substr(0, std::min(colon, size_t{40})), 40) +
                                     "\" is not \"Name: value\" on one line");
    }
    head.append(h).append("\r\n");
  }
  // The client decodes no content coding: ask for none (an answer that has
  // one anyway is refused by the parser).
  head.append("Accept-Encoding: identity\r\n");
  if (body_size) head.append("Content-Length: ").append(std::to_string(*body_size)).append("\r\n");
  head.append("\r\n");
  return head;
}

Result<bool> HttpResponseParser::TakeLine(std::string_view& data, size_t limit) {
  size_t newline = data.find('\n');
  size_t take = newline == std::string_view::npos ? data.size() : newline + 1;
  if (line_.size() + take > limit) return NotHttp("a line or head longer than " + std::to_string(limit) + " bytes");
  line_.append(data.substr(0, take));
  data.remove_prefix(take);
  if (newline == std::string_view::npos) return false;
  line_bytes_ = line_.size();
  line_.pop_back();
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

Status HttpResponseParser::OnStatusLine() {
  // "HTTP/1.1 200 OK": a version, a three-digit code, a reason (maybe empty).
  std::string_view line = line_;
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || !std::isdigit(static_cast<unsigned char>(line[7])) ||
      line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
    return NotHttp("status line \"" + std::string(line.substr(0, 40)) + "\"");
  }
  std::optional<uint64_t> code = ParseDecimal(line.substr(9, 3));
  if (!code || *code < 100 || *code > 599) return NotHttp("status code \"" + std::string(line.substr(9, 3)) + "\"");
  head_ = HttpResponseHead{};
  head_.status = static_cast<int>(*code);
  chunked_ = false;
  keep_alive_ = line[7] == '1';  // HTTP/1.0 closes unless it says otherwise; treat it as closing
  return Status::OK();
}

Status HttpResponseParser::OnHeader() {
  std::string_view line = line_;
  size_t colon = line.find(':');
  // No space before the colon and no folded line: both have been used to
  // make two parsers disagree about a header.
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return NotHttp("header line \"" + std::string(line.substr(0, 40)) + "\"");
  }
  std::string name = Lower(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  if (name == "content-length") {
    for (const std::string& element : ListElements(value)) {
      std::optional<uint64_t> n = ParseDecimal(element);
      if (!n || (head_.content_length && *head_.content_length != *n)) {
        return NotHttp("Content-Length \"" + std::string(value.substr(0, 40)) + "\"");
      }
      head_.content_length = n;
    }
  } else if (name == "transfer-encoding") {
    for (const std::string& coding : ListElements(value)) {
      if (coding != "chunked" || chunked_) return NotHttp("transfer coding \"" + coding.substr(0, 40) + "\"");
      chunked_ = true;
    }
  } else if (name == "content-encoding") {
    for (const std::string& coding : ListElements(value)) {
      if (coding != "identity") return NotHttp("content coding \"" + coding.substr(0, 40) + "\" was not asked for");
    }
  } else if (name == "connection") {
    for (const std::string& option : ListElements(value)) {
      if (option == "close") keep_alive_ = false;
    }
  } else if (name == "retry-after") {
    head_.retry_after = std::string(value.substr(0, 64));
  } else if (name == "content-type") {
    head_.content_type = std::string(value.substr(0, 128));
  }
  return Status::OK();
}

Status HttpResponseParser::OnHeadEnd() {
  head_bytes_ = 0;
  if (head_.status == 101) return NotHttp("a protocol switch that was not asked for");
  if (head_.status < 200) {  // an interim answer (100 Continue): the real one follows
    state_ = State::kStatusLine;
    return Status::OK();
  }
  body_length_.reset();
  if (head_request_ || head_.status == 204 || head_.status == 304) {
    body_length_ = 0;
    state_ = State::kDone;
  } else if (chunked_) {
    // A Content-Length beside chunked is ignored, as RFC 9112 says, but the
    // connection is not reused: something on the way disagreed on framing.
    if (head_.content_length) keep_alive_ = false;
    head_.content_length.reset();
    state_ = State::kChunkSize;
  } else if (head_.content_length) {
    body_length_ = head_.content_length;
    remaining_ = *head_.content_length;
    state_ = remaining_ == 0 ? State::kDone : State::kLength;
  } else {
    keep_alive_ = false;
    state_ = State::kUntilClose;
  }
  return Status::OK();
}

Status HttpResponseParser::OnChunkSize() {
  std::string_view size = line_;
  size = Trim(size.substr(0, size.find(';')));  // chunk extensions mean nothing to us
  if (size.empty() || size.size() > 15) return NotHttp("chunk size \"" + std::string(size.substr(0, 40)) + "\"");
  uint64_t n = 0;
  for (char c : size) {
    int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                            : -1;
    if (digit < 0) return NotHttp("chunk size \"" + std::string(size) + "\"");
    n = n * 16 + static_cast<uint64_t>(digit);
  }
  remaining_ = n;
  state_ = n == 0 ? State::kTrailers : State::kChunkData;
  return Status::OK();
}

Status HttpResponseParser::Feed(std::string_view data, const BodySink& sink) {
  while (!data.empty()) {
    switch (state_) {
      case State::kStatusLine:
      case State::kHeaders:
      case State::kTrailers: {
        PG_ASSIGN_OR_RETURN(bool whole, TakeLine(data, kMaxHeadBytes - head_bytes_));
        if (!whole) break;
        head_bytes_ += line_bytes_;
        if (state_ == State::kStatusLine) {
          PG_RETURN_IF_ERROR(OnStatusLine());
          state_ = State::kHeaders;
        } else if (line_.empty()) {
          if (state_ == State::kTrailers) {
            state_ = State::kDone;
          } else {
            PG_RETURN_IF_ERROR(OnHeadEnd());
          }
        } else if (state_ == State::kHeaders) {
          PG_RETURN_IF_ERROR(OnHeader());
        }  // a trailer's fields are not used
        line_.clear();
        break;
      }
      case State::kChunkSize: {
        PG_ASSIGN_OR_RETURN(bool whole, TakeLine(data, kMaxChunkSizeLine));
        if (!whole) break;
        PG_RETURN_IF_ERROR(OnChunkSize());
        line_.clear();
        break;
      }
      case State::kLength:
      case State::kChunkData:
      case State::kUntilClose: {
        size_t take = data.size();
        if (state_ != State::kUntilClose) take = static_cast<size_t>(std::min<uint64_t>(take, remaining_));
        PG_RETURN_IF_ERROR(sink(data.substr(0, take)));
        data.remove_prefix(take);
        if (state_ == State::kUntilClose) break;
        remaining_ -= take;
        if (remaining_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kChunkEnd;
        break;
      }
      case State::kChunkEnd: {
        PG_ASSIGN_OR_RETURN(bool whole, TakeLine(data, 2));
        if (!whole) break;
        if (!line_.empty()) return NotHttp("a chunk longer than its size");
        state_ = State::kChunkSize;
        break;
      }
      case State::kDone:
        // Bytes after the answer: not ours to read, and the connection
        // cannot be trusted for the next request.
        stray_bytes_ = true;
        return Status::OK();
    }
  }
  return Status::OK();
}

Status HttpResponseParser::FinishAtClose() {
  if (state_ == State::kUntilClose) state_ = State::kDone;
  if (state_ == State::kDone) return Status::OK();
  if (state_ == State::kStatusLine && line_.empty() && head_.status == 0) {
    return Status::Unavailable("the connection closed before an answer");
  }
  return Status::Unavailable("the connection closed in the middle of the answer");
}

}  // namespace pushgate
