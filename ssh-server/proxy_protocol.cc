#include "ssh-server/proxy_protocol.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pushgate {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1Max = 107;  // the specification's bound, CRLF included
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV2Fixed = 16;

ProxyHeader Incomplete() { return {}; }

ProxyHeader Invalid(std::string error) {
  ProxyHeader header;
  header.state = ProxyHeader::State::kInvalid;
  header.error = std::move(error);
  return header;
}

ProxyHeader Complete(size_t length, std::optional<Endpoint> source) {
  ProxyHeader header;
  header.state = ProxyHeader::State::kComplete;
  header.length = length;
  header.source = source;
  return header;
}

// `bytes` so far agrees with `prefix` for as long as both go.
bool AgreesWith(std::string_view bytes, std::string_view prefix) {
  size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

// Decimal 0..65535 without a sign or leading zeros.
bool ParseV1Port(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return false;
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// "PROXY TCP4 SRC DST SPORT DPORT\r\n", single spaces, nothing else.
ProxyHeader ParseV1(std::string_view bytes) {
  size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= kV1Max) return Invalid("a v1 PROXY header longer than 107 bytes");
    // A lone '\n' or a NUL can never become a valid line.
    if (bytes.find_first_of(std::string_view("\n\0", 2)) != std::string_view::npos) {
      return Invalid("a v1 PROXY header with a stray control character");
    }
    return Incomplete();
  }
  if (end + 2 > kV1Max) return Invalid("a v1 PROXY header longer than 107 bytes");
  std::string_view line = bytes.substr(kV1Prefix.size(), end - kV1Prefix.size());
  if (line.substr(0, 7) == "UNKNOWN" && (line.size() == 7 || line[7] == ' ')) return Complete(end + 2, std::nullopt);

  std::string_view fields[5];
  size_t count = 0;
  size_t start = 0;
  while (count < 5) {
    size_t space = line.find(' ', start);
    fields[count++] = line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  bool whole_line = count == 5 && fields[4].data() + fields[4].size() == line.data() + line.size();
  if (!whole_line) {
    return Invalid("a v1 PROXY header without exactly: protocol, two addresses, two ports");
  }
  IpAddress::Family family;
  if (fields[0] == "TCP4") {
    family = IpAddress::Family::kV4;
  } else if (fields[0] == "TCP6") {
    family = IpAddress::Family::kV6;
  } else {
    return Invalid("a v1 PROXY header for an unsupported protocol (TCP4, TCP6 or UNKNOWN)");
  }
  Result<IpAddress> source = ParseIpAddress(fields[1]);
  Result<IpAddress> destination = ParseIpAddress(fields[2]);
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  if (!source.ok() || !destination.ok() || source->family != family || destination->family != family) {
    return Invalid("a v1 PROXY header whose addresses do not match its protocol");
  }
  if (!ParseV1Port(fields[3], &source_port) || !ParseV1Port(fields[4], &destination_port)) {
    return Invalid("a v1 PROXY header with a port outside 0..65535");
  }
  return Complete(end + 2, Endpoint{*source, source_port});
}

uint16_t BigEndian16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

ProxyHeader ParseV2(std::string_view bytes) {
  if (bytes.size() < kV2Fixed) return Incomplete();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  unsigned version = p[12] >> 4;
  unsigned command = p[12] & 0x0f;
  if (version != 2) return Invalid("a PROXY header of an unknown version " + std::to_string(version));
  if (command > 1) return Invalid("a v2 PROXY header with an unknown command " + std::to_string(command));
  size_t length = kV2Fixed + BigEndian16(p + 14);
  if (length > kMaxProxyHeader) return Invalid("a v2 PROXY header longer than " + std::to_string(kMaxProxyHeader));
  if (bytes.size() < length) return Incomplete();
  // LOCAL: the balancer speaking for itself (a health check); whatever
  // address block follows is ignored, as the specification says.
  if (command == 0) return Complete(length, std::nullopt);
  unsigned family = p[13];
  size_t address_bytes = 0;
  Endpoint source;
  if (family == 0x11) {  // TCP over IPv4
    address_bytes = 12;
  } else if (family == 0x21) {  // TCP over IPv6
    address_bytes = 36;
    source.address.family = IpAddress::Family::kV6;
  } else if (family == 0x00) {  // UNSPEC: keep the peer
    return Complete(length, std::nullopt);
  } else {
    return Invalid("a v2 PROXY header for something other than TCP (family byte " + std::to_string(family) + ")");
  }
  if (length - kV2Fixed < address_bytes) return Invalid("a v2 PROXY header too short for its addresses");
  size_t address_size = source.address.size();
  std::memcpy(source.address.bytes.data(), p + kV2Fixed, address_size);
  source.port = BigEndian16(p + kV2Fixed + 2 * address_size);
  return Complete(length, source);
}

}  // namespace

ProxyHeader ParseProxyHeader(std::string_view bytes) {
  if (bytes.empty()) return Incomplete();
  if (AgreesWith(bytes, kV1Prefix)) {
    return bytes.size() < kV1Prefix.size() ? Incomplete() : ParseV1(bytes);
  }
  if (AgreesWith(bytes, kV2Signature)) {
    return bytes.size() < kV2Signature.size() ? Incomplete() : ParseV2(bytes);
  }
  ProxyHeader absent;
  absent.state = ProxyHeader::State::kAbsent;
  return absent;
}

}  // namespace pushgate
