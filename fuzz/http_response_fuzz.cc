// The plain-http client's response parser on hostile bytes: never a crash;
// the same verdict and body however the bytes are split across reads (a
// server, or anything between, picks the split); the body handed on is never
// larger than what came in; and only a finished answer is reusable.
#include <string>

#include "controller/http1.h"
#include "fuzz/fuzz_check.h"

namespace {

struct Outcome {
  bool ok = true;
  bool done = false;
  bool reusable = false;
  int status = 0;
  std::string body;
};

Outcome Parse(std::string_view wire, size_t step, bool head_request) {
  pushgate::HttpResponseParser parser(head_request);
  Outcome out;
  auto sink = [&](std::string_view piece) {
    out.body.append(piece);
    return pushgate::Status::OK();
  };
  for (size_t at = 0; at < wire.size() && out.ok; at += step) out.ok = parser.Feed(wire.substr(at, step), sink).ok();
  out.done = parser.done();
  out.reusable = parser.reusable();
  out.status = parser.head().status;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool head_request = (data[0] & 0x80) != 0;
  size_t step = 1 + (data[0] & 0x7f);
  std::string_view wire = AsText(data + 1, size - 1);
  Outcome whole = Parse(wire, wire.size() + 1, head_request);
  Outcome split = Parse(wire, step, head_request);
  FUZZ_CHECK(whole.ok == split.ok, "the verdict does not depend on how the bytes arrive");
  if (whole.ok) {
    FUZZ_CHECK(whole.body == split.body && whole.done == split.done && whole.status == split.status,
               "the answer does not depend on how the bytes arrive");
  }
  FUZZ_CHECK(whole.body.size() <= wire.size(), "no body byte comes from nothing");
  FUZZ_CHECK(!whole.reusable || whole.done, "only a finished answer leaves the connection reusable");
  FUZZ_CHECK(!whole.done || (whole.status >= 200 && whole.status <= 599), "a finished answer has a final status");
  return 0;
}
