// IP addresses, networks and listen addresses as the configuration and the
// PROXY protocol name them. Parsing is strict (inet_pton, no host names, no
// zone ids): these come from operators and load balancers, and a lenient
// parser would let "10.0.0.0/8 " or "1.2.3.4.nip.io" mean something.
#ifndef PUSHGATE_UTIL_NET_ADDRESS_H_
#define PUSHGATE_UTIL_NET_ADDRESS_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace pushgate {

struct IpAddress {
  enum class Family : uint8_t { kV4, kV6 } family = Family::kV4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  size_t size() const { return family == Family::kV4 ? 4 : 16; }
  std::string ToString() const;
  bool operator==(const IpAddress& other) const = default;
};

// A peer: address and port, as logged ("192.0.2.1:51234", "[2001:db8::1]:22").
struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
  std::string ToString() const;
};

// "192.0.2.1" or "2001:db8::1". An IPv4-mapped IPv6 address stays IPv6 here;
// FromSockaddr folds it to IPv4, as the kernel reports v4 peers on a v6 socket.
Result<IpAddress> ParseIpAddress(std::string_view text);

// The address of a socket peer (AF_INET or AF_INET6; others are an error).
Result<Endpoint> EndpointFromSockaddr(const sockaddr* address, socklen_t length);

// A network: "10.0.0.0/8", "2001:db8::/32", or one address ("127.0.0.1",
// the same as /32). Host bits below the prefix must be zero, so a typo such
// as "10.1.2.3/8" is an error instead of quietly trusting 10.0.0.0/8.
struct Network {
  IpAddress base;
  int prefix_bits = 0;
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};
Result<Network> ParseNetwork(std::string_view text);

bool AnyContains(const std::vector<Network>& networks, const IpAddress& address);

// "HOST:PORT" to listen on: "127.0.0.1:2222", "[::]:2222", "0.0.0.0:22".
// The port is 1..65535; the host is an address, never a name.
struct ListenAddress {
  IpAddress address;
  uint16_t port = 0;
  std::string ToString() const;
};
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_NET_ADDRESS_H_
