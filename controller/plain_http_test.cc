// The http:// transport against a scripted server: each test writes the
// server's side byte by byte, to reach the cases a well-behaved server (the
// fake controller) never produces.
#include "controller/plain_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/testing/testing.h"
#include "util/fd.h"

namespace pushgate {
namespace {

// Listens on loopback and runs `serve` for each connection, one at a time.
class ScriptedServer {
 public:
  using Serve = std::function<void(int fd, int connection)>;

  explicit ScriptedServer(Serve serve) : serve_(std::move(serve)) {
    listener_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(::listen(listener_.get(), 8), 0);
    EXPECT_EQ(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      for (int n = 0;; ++n) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!fd.valid() || stopping_) return;
        accepted_ = n + 1;
        serve_(fd.get(), n);
      }
    });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  Serve serve_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads one request head (up to the empty line); "" if the client closed.
std::string ReadHead(int fd) {
  std::string head;
  char c;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    if (::recv(fd, &c, 1, 0) != 1) return "";
    head += c;
  }
  return head;
}

void Write(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads and drops everything until the client closes.
void Drain(int fd) {
  char buffer[65536];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
}

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

HttpOptions Options(const std::string& url) {
  HttpOptions options;
  options.base_url = url;
  options.headers = {"User-Agent: pushgate-test"};
  options.timeout = std::chrono::seconds(5);
  return options;
}

HttpRequest Get(const std::string& path) {
  HttpRequest request;
  request.path = path;
  return request;
}

// A PUT of `size` bytes of a sparse file: far more than socket buffers
// hold, without writing it.
struct Upload {
  testing::TempDir dir;
  UniqueFd file;
  HttpRequest request;
};

std::unique_ptr<Upload> SparseUpload(uint64_t size) {
  auto upload = std::make_unique<Upload>();
  std::string path = upload->dir / "source.tar.gz";
  upload->file.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  EXPECT_EQ(::ftruncate(upload->file.get(), static_cast<off_t>(size)), 0);
  upload->request.method = HttpRequest::Method::kPut;
  upload->request.path = "/v2/hooks/sources/x";
  upload->request.upload_fd = upload->file.get();
  upload->request.upload_size = size;
  return upload;
}

TEST(PlainHttpTest, OneConnectionCarriesManyRequests) {
  std::string first_head;
  ScriptedServer server([&](int fd, int) {
    for (int i = 0; i < 3; ++i) {
      std::string head = ReadHead(fd);
      if (i == 0) first_head = head;
      Write(fd, kOk);
    }
    Drain(fd);
  });
  HttpOptions options = Options(server.url() + "/prefix");
  PlainHttpClient client(options);
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> r = client.Perform(Get("/v2/x"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{}");
    EXPECT_TRUE(r->IsJson());
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(first_head.rfind("GET /prefix/v2/x HTTP/1.1\r\nHost: 127.0.0.1:", 0), 0u) << first_head;
  EXPECT_NE(first_head.find("User-Agent: pushgate-test\r\n"), std::string::npos) << first_head;
  EXPECT_NE(first_head.find("Accept-Encoding: identity\r\n"), std::string::npos) << first_head;
}

TEST(PlainHttpTest, AKeptConnectionTheServerDroppedUnansweredIsRetriedOnce) {
  ScriptedServer server([&](int fd, int connection) {
    ReadHead(fd);
    if (connection == 0) {
      Write(fd, kOk);
      ReadHead(fd);  // the second request: dropped without an answer
      return;
    }
    Write(fd, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    Drain(fd);
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  ASSERT_TRUE(client.Perform(Get("/a")).ok());
  HttpRequest post;
  post.method = HttpRequest::Method::kPost;
  post.path = "/b";
  post.body = "{\"x\":1}";
  Result<HttpResponse> r = client.Perform(post);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(server.accepted(), 2);
}

TEST(PlainHttpTest, ANewConnectionThatGetsNoAnswerIsNotRetried) {
  ScriptedServer server([&](int fd, int) { ReadHead(fd); });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  Result<HttpResponse> r = client.Perform(Get("/a"));
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("closed before an answer"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(server.url() + "/a"), std::string::npos) << r.status().message();
  EXPECT_EQ(server.accepted(), 1);
}

TEST(PlainHttpTest, AnUploadRefusedBeforeItIsSentReturnsTheRefusal) {
  std::unique_ptr<Upload> upload = SparseUpload(64 << 20);
  ScriptedServer server([&](int fd, int) {
    ReadHead(fd);
    Write(fd,
          "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
          "{\"detail\":\"too big!\"}");
    ::shutdown(fd, SHUT_WR);
    Drain(fd);
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  Result<HttpResponse> r = client.Perform(upload->request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, "{\"detail\":\"too big!\"}");
}

TEST(PlainHttpTest, AnUploadTheServerStopsReadingEndsAtTheStallLimitWithTicks) {
  std::unique_ptr<Upload> upload = SparseUpload(256 << 20);
  std::atomic<bool> done{false};
  ScriptedServer server([&](int fd, int) {
    ReadHead(fd);
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // never reads the body
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest& put = upload->request;
  put.timeout = Duration(0);
  put.stall_timeout = std::chrono::seconds(1);
  int ticks = 0;
  put.on_tick = [&] {
    ++ticks;
    return Status::OK();
  };
  Result<HttpResponse> r = client.Perform(put);
  done = true;
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  EXPECT_NE(r.status().message().find("no data moved"), std::string::npos) << r.status().message();
  EXPECT_GE(ticks, 3);
}

TEST(PlainHttpTest, ATicksErrorEndsTheWaitAndIsReturnedAsItIs) {
  std::atomic<bool> done{false};
  ScriptedServer server([&](int fd, int) {
    ReadHead(fd);
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest request = Get("/v2/hooks/builds/b-1/log");
  request.timeout = Duration(0);
  request.on_tick = [] { return Status::PermissionDenied("the pusher went away"); };
  Result<HttpResponse> r = client.Perform(request);
  done = true;
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(r.status().message(), "the pusher went away");
}

TEST(PlainHttpTest, AStreamedBodyGoesToTheCallbackAndAnErrorAnswerIsBuffered) {
  ScriptedServer server([&](int fd, int connection) {
    ReadHead(fd);
    if (connection == 0) {
      Write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline 1\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      Write(fd, "6\r\nline 2\r\n0\r\n\r\n");
    } else {
      Write(fd, "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nConnection: close\r\n\r\nlater");
    }
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest request = Get("/log");
  std::string streamed;
  request.on_body = [&](std::string_view piece) {
    streamed.append(piece);
    return Status::OK();
  };
  Result<HttpResponse> r = client.Perform(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(streamed, "line 1line 2");
  EXPECT_EQ(r->body, "");
  streamed.clear();
  r = client.Perform(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->retry_after, "7");
  EXPECT_EQ(r->body, "later");
  EXPECT_EQ(streamed, "");
}

TEST(PlainHttpTest, ADeclaredLengthOverTheLimitFailsBeforeTheBody) {
  std::atomic<bool> done{false};
  ScriptedServer server([&](int fd, int) {
    ReadHead(fd);
    Write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n");
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // and sends no body
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest request = Get("/keys");
  request.max_body = 1000;
  Result<HttpResponse> r = client.Perform(request);
  done = true;
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("larger than 1000 bytes"), std::string::npos) << r.status().message();
}

// A HEAD answer's Content-Length is the size of what a GET would get (a
// stored source of hundreds of megabytes), not a body to refuse.
TEST(PlainHttpTest, AHeadAnswersLengthIsNotABody) {
  ScriptedServer server([&](int fd, int) {
    ReadHead(fd);
    Write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: 134217728\r\n\r\n");
    ReadHead(fd);
    Write(fd, kOk);
    Drain(fd);
  });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest head = Get("/v2/hooks/sources/sha256:x");
  head.method = HttpRequest::Method::kHead;
  Result<HttpResponse> r = client.Perform(head);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(client.Perform(Get("/a")).ok());
  EXPECT_EQ(server.accepted(), 1);
}

TEST(PlainHttpTest, HeadersThatWouldAddALineAreRefusedBeforeConnecting) {
  ScriptedServer server([&](int fd, int) { Drain(fd); });
  HttpOptions options = Options(server.url());
  PlainHttpClient client(options);
  HttpRequest request = Get("/a");
  request.headers = {"X-Token: secret\r\nX-Admin: 1"};
  Status refused = client.Perform(request).status();
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("X-Token"), std::string::npos) << refused.message();
  EXPECT_EQ(refused.message().find("secret"), std::string::npos)
      << "a header's value is never shown: " << refused.message();
  EXPECT_EQ(server.accepted(), 0);
}

TEST(PlainHttpTest, AHostNameIsResolvedAndAClosedPortIsUnavailable) {
  int port = 0;
  {
    ScriptedServer server([&](int fd, int) {
      ReadHead(fd);
      Write(fd, kOk);
      Drain(fd);
    });
    port = std::stoi(server.url().substr(server.url().rfind(':') + 1));
    HttpOptions options = Options("http://localhost:" + std::to_string(port));
    PlainHttpClient client(options);
    Result<HttpResponse> r = client.Perform(Get("/a"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  HttpOptions options = Options("http://127.0.0.1:" + std::to_string(port));
  PlainHttpClient client(options);
  Result<HttpResponse> r = client.Perform(Get("/a"));
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("Connection refused"), std::string::npos) << r.status().message();
}

TEST(PlainHttpTest, AMalformedUrlFailsEveryRequestClearly) {
  HttpOptions options = Options("http://user:secret@controller");
  PlainHttpClient client(options);
  Result<HttpResponse> r = client.Perform(Get("/a"));
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("token_file"), std::string::npos);
}

}  // namespace
}  // namespace pushgate
