#include "controller/plain_http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "util/duration.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;

// On-tick callbacks run about this often, as with the libcurl transport.
constexpr auto kTickInterval = std::chrono::milliseconds(200);
constexpr size_t kIoBytes = 64 << 10;

struct AddressListDeleter {
  void operator()(addrinfo* list) const { ::freeaddrinfo(list); }
};
using AddressList = std::unique_ptr<addrinfo, AddressListDeleter>;

// getaddrinfo has no timeout of its own, and a DNS server that does not
// answer would hold the request for resolv.conf's retries (10 s and more).
// A name is resolved on a detached thread, waited for until `deadline`;
// a lookup that overruns finishes on its own and frees what it found.
Result<AddressList> Resolve(const HttpUrl& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* list = nullptr;
  if (::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &list) == 0) return AddressList(list);
  hints.ai_flags = AI_NUMERICSERV;
  struct Lookup {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    int rc = 0;
    AddressList list;
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host = url.host, port = url.port, hints] {
      addrinfo* found = nullptr;
      int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      std::lock_guard<std::mutex> lock(lookup->mu);
      lookup->rc = rc;
      lookup->list.reset(found);
      lookup->done = true;
      lookup->done_cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Status::ResourceExhausted(std::string("could not start a thread to resolve the host: ") + e.what());
  }
  std::unique_lock<std::mutex> lock(lookup->mu);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return Status::Timeout("resolving " + url.host + " took longer than the connect timeout");
  }
  if (lookup->rc != 0) {
    return Status::Unavailable("could not resolve " + url.host + ": " + ::gai_strerror(lookup->rc));
  }
  return std::move(lookup->list);
}

int MillisecondsUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

Status SetOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return Status::FromErrno(errno, what);
  return Status::OK();
}

// A connected socket, non-blocking, with Nagle off (a head and its body go
// out in separate writes) and TCP keepalives: a build's log stream may be
// silent for minutes, and keepalives notice a peer that vanished.
Result<UniqueFd> Connect(const HttpUrl& url, Clock::time_point deadline) {
  PG_ASSIGN_OR_RETURN(AddressList list, Resolve(url, deadline));
  std::string last_error = "no address";
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      last_error = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int ready;
      do {
        ready = ::poll(&p, 1, MillisecondsUntil(deadline));
      } while (ready < 0 && errno == EINTR);
      if (ready < 0) return Status::FromErrno(errno, "wait for the connection");
      if (ready == 0) return Status::Timeout("could not connect to " + url.authority + " in time");
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) {
        last_error = std::strerror(error);
        continue;
      }
    }
    PG_RETURN_IF_ERROR(SetOption(fd.get(), IPPROTO_TCP, TCP_NODELAY, 1, "set TCP_NODELAY"));
    PG_RETURN_IF_ERROR(SetOption(fd.get(), SOL_SOCKET, SO_KEEPALIVE, 1, "set SO_KEEPALIVE"));
    PG_RETURN_IF_ERROR(SetOption(fd.get(), IPPROTO_TCP, TCP_KEEPIDLE, 30, "set TCP_KEEPIDLE"));
    PG_RETURN_IF_ERROR(SetOption(fd.get(), IPPROTO_TCP, TCP_KEEPINTVL, 10, "set TCP_KEEPINTVL"));
    return fd;
  }
  return Status::Unavailable("could not connect to " + url.authority + ": " + last_error);
}

// An idle kept-alive connection is usable if the server has neither closed
// it nor sent anything unasked.
bool IdleConnectionOpen(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

const char* MethodName(HttpRequest::Method method) {
  switch (method) {
    case HttpRequest::Method::kGet: return "GET";
    case HttpRequest::Method::kHead: return "HEAD";
    case HttpRequest::Method::kPost: return "POST";
    case HttpRequest::Method::kPut: return "PUT";
  }
  return "GET";
}

// The limits of one exchange, checked whenever it waits: the whole
// request's deadline, the stall limit (no byte moved), and the tick.
class Pacer {
 public:
  Pacer(const HttpRequest& request, Duration timeout)
      : request_(request),
        start_(Clock::now()),
        deadline_(timeout.count() > 0 ? start_ + timeout : Clock::time_point::max()),
        timeout_(timeout),
        last_progress_(start_),
        last_tick_(start_) {}

  Clock::time_point deadline() const { return deadline_; }
  void Progressed() { last_progress_ = Clock::now(); }
  // The error came from the caller's side (a tick, the upload file, the
  // body callback), not the transport, and is returned as it is.
  void CallerFailed() { caller_failed_ = true; }
  bool caller_failed() const { return caller_failed_; }

  // Waits until `fd` is ready for `events`; returns what poll reported.
  Result<short> Wait(int fd, short events) {
    for (;;) {
      auto now = Clock::now();
      if (now >= deadline_) return Status::Timeout("no answer within " + FormatDuration(timeout_));
      Duration stall = request_.stall_timeout;
      if (stall.count() > 0 && now - last_progress_ >= stall) {
        return Status::Timeout("no data moved for " + FormatDuration(stall));
      }
      if (request_.on_tick && now - last_tick_ >= kTickInterval) {
        last_tick_ = now;
        Status ticked = request_.on_tick();
        if (!ticked.ok()) {
          caller_failed_ = true;
          return ticked;
        }
      }
      Clock::time_point wake = deadline_;
      if (stall.count() > 0) wake = std::min(wake, last_progress_ + stall);
      if (request_.on_tick) wake = std::min(wake, last_tick_ + kTickInterval);
      pollfd p{fd, events, 0};
      int ready = ::poll(&p, 1, wake == Clock::time_point::max() ? -1 : std::max(1, MillisecondsUntil(wake)));
      if (ready > 0) return p.revents;
      if (ready < 0 && errno != EINTR) return Status::FromErrno(errno, "wait for the controller");
    }
  }

 private:
  const HttpRequest& request_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  Duration timeout_;
  Clock::time_point last_progress_;
  Clock::time_point last_tick_;
  bool caller_failed_ = false;
};

// Sends a request on `fd`. An answer that comes before the request is all
// sent (a refusal of an upload) stops the sending: `answer_early` is set and
// the caller reads it.
class RequestWriter {
 public:
  RequestWriter(int fd, Pacer& pacer) : fd_(fd), pacer_(pacer) {}

  bool answer_early() const { return answer_early_; }

  Status Send(std::string_view bytes) {
    while (!bytes.empty() && !answer_early_) {
      PG_ASSIGN_OR_RETURN(short ready, pacer_.Wait(fd_, POLLOUT | POLLIN));
      if (ready & POLLIN) {
        answer_early_ = true;
        break;
      }
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        // The server may have answered and closed; the reader finds out.
        if (errno == EPIPE || errno == ECONNRESET) {
          answer_early_ = true;
          break;
        }
        return Status::FromErrno(errno, "send the request");
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      pacer_.Progressed();
    }
    return Status::OK();
  }

  // `size` bytes from `fd`, read as they are sent: a source archive is not
  // held in memory.
  Status SendFile(int fd, uint64_t size) {
    std::string buffer(kIoBytes, '\0');
    while (size > 0 && !answer_early_) {
      ssize_t n = ::read(fd, buffer.data(), static_cast<size_t>(std::min<uint64_t>(size, buffer.size())));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        pacer_.CallerFailed();
        if (n < 0) return Status::FromErrno(errno, "read the upload");
        return Status::IOError("the upload ended " + std::to_string(size) + " bytes short of its size");
      }
      size -= static_cast<uint64_t>(n);
      PG_RETURN_IF_ERROR(Send(std::string_view(buffer.data(), static_cast<size_t>(n))));
    }
    return Status::OK();
  }

 private:
  int fd_;
  Pacer& pacer_;
  bool answer_early_ = false;
};

}  // namespace

PlainHttpClient::PlainHttpClient(const HttpOptions& options)
    : options_(options), url_(ParseHttpUrl(options.base_url)) {}

Result<HttpResponse> PlainHttpClient::Perform(const HttpRequest& request) {
  PG_RETURN_IF_ERROR(url_.status());
  bool reused = connection_.valid() && IdleConnectionOpen(connection_.get());
  if (!reused) connection_.Reset();
  off_t upload_start = request.method == HttpRequest::Method::kPut ? ::lseek(request.upload_fd, 0, SEEK_CUR) : 0;
  bool answered = false;
  Result<HttpResponse> response = Exchange(request, &answered);
  // A server may close a kept-alive connection just as a request goes out
  // on it. One that sent no byte back did not act on the request, which is
  // sent once more on a new connection (an upload only if it can rewind).
  bool retry = !response.ok() && response.status().code() == Status::Code::kUnavailable && reused && !answered &&
               upload_start >= 0;
  if (!retry) return response;
  if (request.method == HttpRequest::Method::kPut && ::lseek(request.upload_fd, upload_start, SEEK_SET) < 0) {
    return response;
  }
  return Exchange(request, &answered);
}

Result<HttpResponse> PlainHttpClient::Exchange(const HttpRequest& request, bool* answered) {
  const HttpUrl& url = *url_;
  std::string target = options_.base_url + request.path;
  Pacer pacer(request, request.timeout.value_or(options_.timeout));
  // Every failure closes the connection: its state is unknown.
  auto failed = [&](const Status& s) {
    connection_.Reset();
    if (pacer.caller_failed()) return s;
    std::string message = "controller request " + target + " failed: " + s.message();
    switch (s.code()) {
      case Status::Code::kTimeout: return Status::Timeout(std::move(message));
      case Status::Code::kInvalidArgument: return Status::InvalidArgument(std::move(message));
      case Status::Code::kResourceExhausted: return Status::ResourceExhausted(std::move(message));
      default: return Status::Unavailable(std::move(message));
    }
  };
  std::optional<uint64_t> body_size;
  if (request.method == HttpRequest::Method::kPost) body_size = request.body.size();
  if (request.method == HttpRequest::Method::kPut) body_size = request.upload_size;
  std::vector<std::string> headers = options_.headers;
  headers.insert(headers.end(), request.headers.begin(), request.headers.end());
  Result<std::string> head = FormatRequestHead(MethodName(request.method), url, request.path, headers, body_size);
  if (!head.ok()) return failed(head.status());
  if (!connection_.valid()) {
    Result<UniqueFd> fd = Connect(url, std::min(pacer.deadline(), Clock::now() + options_.connect_timeout));
    if (!fd.ok()) return failed(fd.status());
    connection_ = std::move(*fd);
  }
  int fd = connection_.get();

  RequestWriter writer(fd, pacer);
  if (request.method == HttpRequest::Method::kPost) head->append(request.body);  // one write for a small request
  Status sent = writer.Send(*head);
  if (sent.ok() && request.method == HttpRequest::Method::kPut) {
    sent = writer.SendFile(request.upload_fd, request.upload_size);
  }
  if (!sent.ok()) return failed(sent);

  HttpResponse response;
  HttpResponseParser parser(request.method == HttpRequest::Method::kHead);
  auto streamed = [&] { return request.on_body && parser.head().status / 100 == 2; };
  auto too_large = [&] {
    connection_.Reset();
    return Status::ResourceExhausted("the controller's answer to " + target + " is larger than " +
                                     std::to_string(request.max_body) + " bytes");
  };
  bool over_limit = false;
  auto sink = [&](std::string_view piece) -> Status {
    if (streamed()) {
      Status s = request.on_body(piece);
      if (!s.ok()) pacer.CallerFailed();
      return s;
    }
    if (response.body.size() + piece.size() > request.max_body) {
      over_limit = true;
      return Status::ResourceExhausted("over the limit");
    }
    response.body.append(piece);
    return Status::OK();
  };
  std::string buffer(kIoBytes, '\0');
  while (!parser.done()) {
    Result<short> ready = pacer.Wait(fd, POLLIN);
    if (!ready.ok()) return failed(ready.status());
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return failed(Status::FromErrno(errno, "receive the answer"));
    if (n == 0) {
      Status ended = parser.FinishAtClose();
      if (!ended.ok()) return failed(ended);
      break;
    }
    *answered = true;
    pacer.Progressed();
    Status fed = parser.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), sink);
    if (over_limit) return too_large();
    if (!fed.ok()) return failed(fed);
    // A declared length over the limit fails before the body is read.
    if (parser.head_done() && !streamed() && parser.body_length().value_or(0) > request.max_body) {
      return too_large();
    }
  }
  if (!parser.reusable() || writer.answer_early()) connection_.Reset();
  response.status = parser.head().status;
  response.retry_after = parser.head().retry_after;
  response.content_type = parser.head().content_type;
  return response;
}

}  // namespace pushgate
