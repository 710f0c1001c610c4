#include "util/net_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace pushgate {
namespace {

IpAddress Ip(std::string_view text) {
  Result<IpAddress> address = ParseIpAddress(text);
  EXPECT_TRUE(address.ok()) << text;
  return address.ok() ? *address : IpAddress();
}

TEST(NetAddressTest, ParsesBothFamiliesAndNothingElse) {
  EXPECT_EQ(Ip("192.0.2.1").ToString(), "192.0.2.1");
  EXPECT_EQ(Ip("2001:db8::1").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("2001:db8::1").family, IpAddress::Family::kV6);
  for (std::string_view bad : {"", "localhost", "1.2.3", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/8", "01.2.3.4x",
                               "fe80::1%eth0", "256.1.1.1", "1.2.3.4.nip.io"}) {
    EXPECT_FALSE(ParseIpAddress(bad).ok()) << bad;
  }
}

TEST(NetAddressTest, NetworksContainTheirAddressesOnly) {
  Result<Network> ten = ParseNetwork("10.0.0.0/8");
  ASSERT_TRUE(ten.ok());
  EXPECT_TRUE(ten->Contains(Ip("10.255.0.1")));
  EXPECT_FALSE(ten->Contains(Ip("11.0.0.1")));
  EXPECT_FALSE(ten->Contains(Ip("::ffff:10.0.0.1")));  // the other family never matches
  Result<Network> odd = ParseNetwork("192.168.0.0/23");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Contains(Ip("192.168.1.200")));
  EXPECT_FALSE(odd->Contains(Ip("192.168.2.1")));
  Result<Network> one = ParseNetwork("127.0.0.1");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->prefix_bits, 32);
  EXPECT_FALSE(one->Contains(Ip("127.0.0.2")));
  Result<Network> v6 = ParseNetwork("2001:db8::/32");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(Ip("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->Contains(Ip("2001:db9::1")));
  Result<Network> all = ParseNetwork("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Contains(Ip("203.0.113.9")));
}

TEST(NetAddressTest, NetworkTyposAreErrorsThatSuggestTheFix) {
  Result<Network> host_bits = ParseNetwork("10.1.2.3/8");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.status().message().find("did you mean 10.0.0.0/8?"), std::string::npos)
      << host_bits.status().message();
  for (std::string_view bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "::/129", "10.0.0.0/8/8", "10.0.0.0/ 8"}) {
    EXPECT_FALSE(ParseNetwork(bad).ok()) << bad;
  }
}

TEST(NetAddressTest, ListenAddressesNeedAnAddressAndAPort) {
  Result<ListenAddress> v4 = ParseListenAddress("127.0.0.1:2222");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->port, 2222);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:2222");
  Result<ListenAddress> v6 = ParseListenAddress("[::]:22");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "[::]:22");
  for (std::string_view bad : {"2222", ":2222", "localhost:22", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:022",
                               "::1:22", "[127.0.0.1]:22", "127.0.0.1:22x", "[::1]"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
}

TEST(NetAddressTest, MappedPeersAreTheirIpv4Address) {
  sockaddr_in6 peer = {};
  peer.sin6_family = AF_INET6;
  peer.sin6_port = htons(4000);
  ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:192.0.2.7", &peer.sin6_addr), 1);
  Result<Endpoint> endpoint = EndpointFromSockaddr(reinterpret_cast<sockaddr*>(&peer), sizeof peer);
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->ToString(), "192.0.2.7:4000");
  sockaddr unix_peer = {};
  unix_peer.sa_family = AF_UNIX;
  EXPECT_FALSE(EndpointFromSockaddr(&unix_peer, sizeof unix_peer).ok());
}

}  // namespace
}  // namespace pushgate
