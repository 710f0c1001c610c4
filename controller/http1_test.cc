#include "controller/http1.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(HttpUrlTest, SplitsHostPortAndPrefix) {
  Result<HttpUrl> url = ParseHttpUrl("http://deis-controller.deis:8000/api/");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "deis-controller.deis");
  EXPECT_EQ(url->port, "8000");
  EXPECT_EQ(url->authority, "deis-controller.deis:8000");
  EXPECT_EQ(url->prefix, "/api");

  url = ParseHttpUrl("http://[::1]:9/");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "9");
  EXPECT_EQ(url->authority, "[::1]:9");

  url = ParseHttpUrl("http://10.0.0.1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, "80");
  EXPECT_EQ(url->prefix, "");
}

TEST(HttpUrlTest, RefusesWhatCouldMeanSomethingElse) {
  for (const char* bad :
       {"https://controller", "http://", "http://user:pw@controller", "http://host:0", "http://host:65536",
        "http://host:8x", "http://host/a?b", "http://host/a#b", "http://[::1", "http://[nothost]:80", "http://ho st",
        "http://host/a b", "http://[::1]x:80", "http://host:"}) {
    Result<HttpUrl> url = ParseHttpUrl(bad);
    EXPECT_EQ(url.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseHttpUrl("http://u:p@host").status().message().find("token_file"), std::string::npos);
}

TEST(HttpRequestHeadTest, FormatsAHeadWithItsLength) {
  HttpUrl url = *ParseHttpUrl("http://ctl:8000/api");
  Result<std::string> head = FormatRequestHead("POST", url, "/v2/hooks/push", {"Accept: application/json"}, 12);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(*head,
            "POST /api/v2/hooks/push HTTP/1.1\r\nHost: ctl:8000\r\nAccept: application/json\r\n"
            "Accept-Encoding: identity\r\nContent-Length: 12\r\n\r\n");
}

TEST(HttpRequestHeadTest, NothingPassedInCanAddALineOrARequest) {
  HttpUrl url = *ParseHttpUrl("http://ctl");
  for (const std::string& header :
       {std::string("X-A: b\r\nX-Evil: 1"), std::string("X-A: b\nX"), std::string("X-A: b\0c", 8),
        std::string("No colon"), std::string("Bad name: x"), std::string(": empty name")}) {
    EXPECT_EQ(FormatRequestHead("GET", url, "/", {header}, std::nullopt).status().code(),
              Status::Code::kInvalidArgument)
        << header;
  }
  for (const char* path : {"", "relative", "/a b", "/a\r\nX: y", "/\x7f"}) {
    EXPECT_EQ(FormatRequestHead("GET", url, path, {}, std::nullopt).status().code(), Status::Code::kInvalidArgument)
        << path;
  }
}

// Feeds `wire` to a parser in pieces of `step` bytes and collects the body.
struct Parsed {
  Status status;
  std::string body;
  HttpResponseHead head;
  bool done = false;
  bool reusable = false;
  std::optional<uint64_t> body_length;
};

Parsed Parse(std::string_view wire, size_t step, bool head_request = false, bool closed = false) {
  HttpResponseParser parser(head_request);
  Parsed out;
  auto sink = [&](std::string_view piece) {
    out.body.append(piece);
    return Status::OK();
  };
  for (size_t at = 0; at < wire.size() && out.status.ok(); at += step)
    out.status = parser.Feed(wire.substr(at, step), sink);
  if (out.status.ok() && closed) out.status = parser.FinishAtClose();
  out.head = parser.head();
  out.done = parser.done();
  out.reusable = parser.reusable();
  out.body_length = parser.body_length();
  return out;
}

TEST(HttpResponseParserTest, LengthChunkedAndCloseDelimitedBodiesInAnySplit) {
  const std::string chunked =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nRetry-After: 5\r\n\r\n"
      "4;name=value\r\n{\"a\"\r\nB\r\n:[1,2,3,4]}\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t step : {1, 2, 3, 7, 1000}) {
    Parsed p = Parse(chunked, step);
    ASSERT_TRUE(p.status.ok()) << step << " " << p.status.ToString();
    EXPECT_TRUE(p.done);
    EXPECT_TRUE(p.reusable);
    EXPECT_EQ(p.body, "{\"a\":[1,2,3,4]}");
    EXPECT_EQ(p.head.status, 200);
    EXPECT_EQ(p.head.content_type, "application/json");
    EXPECT_EQ(p.head.retry_after, "5");

    Parsed length = Parse("HTTP/1.1 404 Not Found\nContent-Length: 3\n\nabc", step);
    ASSERT_TRUE(length.status.ok()) << length.status.ToString();
    EXPECT_TRUE(length.reusable);
    EXPECT_EQ(length.body, "abc");

    Parsed until_close = Parse("HTTP/1.1 200 OK\r\n\r\nall of it", step, false, true);
    ASSERT_TRUE(until_close.status.ok()) << until_close.status.ToString();
    EXPECT_TRUE(until_close.done);
    EXPECT_FALSE(until_close.reusable);
    EXPECT_EQ(until_close.body, "all of it");
  }
}

TEST(HttpResponseParserTest, AnswersWithoutABody) {
  Parsed head = Parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 5, true);
  EXPECT_TRUE(head.done);
  EXPECT_TRUE(head.reusable);
  EXPECT_EQ(head.head.content_length, 99u);
  EXPECT_EQ(head.body_length, 0u) << "a HEAD answer's length is the resource's, not a body";
  EXPECT_EQ(Parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 5).body_length, 0u);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", 100).body_length, 7u);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 100).body_length, std::nullopt);
  EXPECT_TRUE(Parse("HTTP/1.1 204 No Content\r\n\r\n", 5).done);
  EXPECT_TRUE(Parse("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 5).reusable);
  EXPECT_FALSE(Parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", 5).reusable);
  EXPECT_FALSE(Parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 5).reusable);
  EXPECT_FALSE(Parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n", 100).reusable);
}

TEST(HttpResponseParserTest, MalformedOrUnaskedForFramingIsRefused) {
  for (const std::string& wire : {
           std::string("SSH-2.0-OpenSSH_9.2\r\n"),
           std::string("HTTP/2 200\r\n\r\n"),
           std::string("HTTP/1.1 20 OK\r\n\r\n"),
           std::string("HTTP/1.1 700 Odd\r\n\r\n"),
           std::string("HTTP/1.1 200OK\r\n\r\n"),
           std::string("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\n folded: line\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabc"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\n") + std::string(70 << 10, 'x'),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;") + std::string(2000, 'e'),
       }) {
    Parsed p = Parse(wire, 1000);
    EXPECT_EQ(p.status.code(), Status::Code::kUnavailable) << wire.substr(0, 80);
    EXPECT_FALSE(p.done) << wire.substr(0, 80);
  }
}

TEST(HttpResponseParserTest, AConnectionClosedEarlyIsAnError) {
  EXPECT_EQ(Parse("", 1, false, true).status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", 1, false, true).status.code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 4, false, true).status.code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nContent-", 4, false, true).status.code(), Status::Code::kUnavailable);
}

TEST(HttpResponseParserTest, TheSinksErrorStopsTheParse) {
  HttpResponseParser parser(false);
  int calls = 0;
  Status s = parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", [&](std::string_view) {
    ++calls;
    return Status::Internal("the pusher went away");
  });
  EXPECT_EQ(s.code(), Status::Code::kInternal);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace pushgate
