// The PROXY protocol (HAProxy's, versions 1 and 2): the header a TCP load
// balancer puts in front of a connection to say who the client really is.
//
// The parser is pure: it looks at the bytes received so far and says whether
// they hold a whole header, need more, are not a header at all, or are a
// broken one. pushgate-sshd peeks at the socket, so bytes after the header
// (the client's SSH banner) stay unread for libssh. Whether a header is
// required, allowed, and from whom is the caller's policy (sshd.proxy_*).
#ifndef PUSHGATE_SSH_SERVER_PROXY_PROTOCOL_H_
#define PUSHGATE_SSH_SERVER_PROXY_PROTOCOL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "util/net_address.h"

namespace pushgate {

// The most bytes a header may take: v1's 107, v2's 16 plus addresses and
// the TLVs balancers append (AWS's VPC endpoint id, Azure's link id). A
// longer v2 header is refused rather than waited for.
inline constexpr size_t kMaxProxyHeader = 16 + 1024;

struct ProxyHeader {
  enum class State {
    kIncomplete,  // a prefix of a header: read more
    kAbsent,      // these bytes do not start a PROXY header (an SSH banner)
    kInvalid,     // a broken or unsupported header: `error` says how
    kComplete,    // a header of `length` bytes
  } state = State::kIncomplete;
  size_t length = 0;
  // The client as the balancer saw it. Empty for a v2 LOCAL command (the
  // balancer's own health check) and v1 UNKNOWN: the TCP peer stands.
  std::optional<Endpoint> source;
  std::string error;
};

ProxyHeader ParseProxyHeader(std::string_view bytes);

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_PROXY_PROTOCOL_H_
