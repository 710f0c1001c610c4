// The PROXY protocol header parser (ssh-server/proxy_protocol.h): whatever a
// peer sends, the parser never reads past its input, claims no more bytes
// than it was given, and gives the same answer for a header followed by
// more bytes (the client's SSH banner) as for the header alone.
#include <string>

#include "fuzz/fuzz_check.h"
#include "ssh-server/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = AsText(data, size);
  pushgate::ProxyHeader header = pushgate::ParseProxyHeader(input);
  using State = pushgate::ProxyHeader::State;
  if (header.state == State::kInvalid) FUZZ_CHECK(!header.error.empty(), "an invalid header says why");
  if (header.state != State::kComplete) return 0;
  FUZZ_CHECK(header.length > 0 && header.length <= input.size(), "a header lies within the bytes read");
  FUZZ_CHECK(header.length <= pushgate::kMaxProxyHeader, "a header is bounded");
  pushgate::ProxyHeader alone = pushgate::ParseProxyHeader(input.substr(0, header.length));
  FUZZ_CHECK(alone.state == State::kComplete && alone.length == header.length,
             "the bytes after a header do not change it");
  FUZZ_CHECK(alone.source.has_value() == header.source.has_value() &&
                 (!header.source || alone.source->ToString() == header.source->ToString()),
             "the bytes after a header do not change the client");
  return 0;
}
