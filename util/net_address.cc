#include "util/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pushgate {
namespace {

// inet_pton wants a NUL-terminated string; its inputs are short.
bool FitsBuffer(std::string_view text) { return !text.empty() && text.size() < INET6_ADDRSTRLEN; }

bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || text.front() == '0') return false;
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  int af = family == Family::kV4 ? AF_INET : AF_INET6;
  if (::inet_ntop(af, bytes.data(), buffer, sizeof buffer) == nullptr) return "?";
  return buffer;
}

std::string Endpoint::ToString() const {
  std::string host = address.ToString();
  if (address.family == IpAddress::Family::kV6) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

std::string ListenAddress::ToString() const { return Endpoint{address, port}.ToString(); }

Result<IpAddress> ParseIpAddress(std::string_view text) {
  if (FitsBuffer(text)) {
    char buffer[INET6_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    IpAddress address;
    if (::inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
    address.family = IpAddress::Family::kV6;
    if (::inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) return address;
  }
  return Status::InvalidArgument("\"" + std::string(text.substr(0, 64)) +
                                 "\" is not an IP address such as 192.0.2.1 or 2001:db8::1");
}

Result<Endpoint> EndpointFromSockaddr(const sockaddr* address, socklen_t length) {
  Endpoint endpoint;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(endpoint.address.bytes.data(), &v4->sin_addr, 4);
    endpoint.port = ntohs(v4->sin_port);
    return endpoint;
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    endpoint.port = ntohs(v6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      std::memcpy(endpoint.address.bytes.data(), &v6->sin6_addr.s6_addr[12], 4);
    } else {
      endpoint.address.family = IpAddress::Family::kV6;
      std::memcpy(endpoint.address.bytes.data(), &v6->sin6_addr, 16);
    }
    return endpoint;
  }
  return Status::InvalidArgument("not an IPv4 or IPv6 peer (address family " + std::to_string(address->sa_family) +
                                 ")");
}

bool Network::Contains(const IpAddress& address) const {
  if (address.family != base.family) return false;
  int whole = prefix_bits / 8;
  if (std::memcmp(address.bytes.data(), base.bytes.data(), static_cast<size_t>(whole)) != 0) return false;
  int rest = prefix_bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address.bytes[whole] & mask) == base.bytes[whole];
}

std::string Network::ToString() const { return base.ToString() + "/" + std::to_string(prefix_bits); }

Result<Network> ParseNetwork(std::string_view text) {
  size_t slash = text.find('/');
  Network network;
  PG_ASSIGN_OR_RETURN(network.base, ParseIpAddress(text.substr(0, slash)));
  int max_bits = static_cast<int>(network.base.size() * 8);
  network.prefix_bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    int value = -1;
    auto [end, error] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
    if (bits.empty() || bits.size() > 3 || error != std::errc() || end != bits.data() + bits.size() || value < 0 ||
        value > max_bits) {
      return Status::InvalidArgument("\"" + std::string(text.substr(0, 64)) + "\" has a prefix length outside 0.." +
                                     std::to_string(max_bits));
    }
    network.prefix_bits = value;
  }
  // Host bits set below the prefix: almost always a typo for another network.
  Network masked = network;
  for (size_t i = 0; i < network.base.size(); ++i) {
    int keep = std::clamp(network.prefix_bits - static_cast<int>(i) * 8, 0, 8);
    masked.base.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  if (!(masked.base == network.base)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" has host bits set; did you mean " +
                                   masked.ToString() + "?");
  }
  return network;
}

bool AnyContains(const std::vector<Network>& networks, const IpAddress& address) {
  for (const Network& network : networks) {
    if (network.Contains(address)) return true;
  }
  return false;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto wrong = [&] {
    return Status::InvalidArgument("\"" + std::string(text.substr(0, 64)) +
                                   "\" is not an address and port such as 127.0.0.1:2222 or [::]:2222");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return wrong();
  std::string_view host = text.substr(0, colon);
  ListenAddress listen;
  if (!ParsePort(text.substr(colon + 1), &listen.port)) return wrong();
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  Result<IpAddress> address = ParseIpAddress(host);
  if (!address.ok()) return wrong();
  // "::1:2222" would be ambiguous; IPv6 needs its brackets.
  if ((address->family == IpAddress::Family::kV6) != bracketed) return wrong();
  listen.address = *address;
  return listen;
}

}  // namespace pushgate
