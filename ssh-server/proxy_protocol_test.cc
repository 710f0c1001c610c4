#include "ssh-server/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pushgate {
namespace {

using State = ProxyHeader::State;

std::string V2(unsigned char command, unsigned char family, std::string addresses) {
  std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
  header += static_cast<char>(0x20 | command);
  header += static_cast<char>(family);
  header += static_cast<char>(addresses.size() >> 8);
  header += static_cast<char>(addresses.size() & 0xff);
  return header + addresses;
}

std::string V2Tcp4(std::string tlvs = "") {
  return V2(1, 0x11, std::string("\xc0\x00\x02\x07" "\x0a\x00\x00\x01" "\xd4\x31" "\x08\xae", 12) + tlvs);
}

TEST(ProxyProtocolTest, V1Tcp4GivesTheClientAndLeavesTheBannerUnread) {
  std::string bytes = "PROXY TCP4 192.0.2.7 10.0.0.1 54321 2222\r\nSSH-2.0-OpenSSH_9.2\r\n";
  ProxyHeader header = ParseProxyHeader(bytes);
  ASSERT_EQ(header.state, State::kComplete) << header.error;
  EXPECT_EQ(header.length, bytes.find("SSH-"));
  ASSERT_TRUE(header.source);
  EXPECT_EQ(header.source->ToString(), "192.0.2.7:54321");
}

TEST(ProxyProtocolTest, V1Tcp6AndUnknown) {
  ProxyHeader v6 = ParseProxyHeader("PROXY TCP6 2001:db8::7 2001:db8::1 1 2222\r\n");
  ASSERT_EQ(v6.state, State::kComplete) << v6.error;
  EXPECT_EQ(v6.source->ToString(), "[2001:db8::7]:1");
  ProxyHeader unknown = ParseProxyHeader("PROXY UNKNOWN\r\n");
  ASSERT_EQ(unknown.state, State::kComplete);
  EXPECT_FALSE(unknown.source);
  ProxyHeader unknown_with_rest = ParseProxyHeader("PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n");
  EXPECT_EQ(unknown_with_rest.state, State::kComplete);
}

TEST(ProxyProtocolTest, EveryPrefixOfAHeaderAsksForMore) {
  for (std::string whole : {std::string("PROXY TCP4 192.0.2.7 10.0.0.1 54321 2222\r\n"), V2Tcp4("\x04\x00\x01x")}) {
    for (size_t n = 0; n < whole.size(); ++n) {
      ProxyHeader header = ParseProxyHeader(whole.substr(0, n));
      EXPECT_EQ(header.state, State::kIncomplete) << n << ": " << header.error;
    }
    EXPECT_EQ(ParseProxyHeader(whole).state, State::kComplete);
  }
}

TEST(ProxyProtocolTest, AnSshBannerIsNoHeader) {
  EXPECT_EQ(ParseProxyHeader("SSH-2.0-OpenSSH_9.2\r\n").state, State::kAbsent);
  EXPECT_EQ(ParseProxyHeader("S").state, State::kAbsent);
  EXPECT_EQ(ParseProxyHeader("PROXZ").state, State::kAbsent);
  EXPECT_EQ(ParseProxyHeader(std::string("\r\n\r\n\0\r\nQUIX", 12)).state, State::kAbsent);
}

TEST(ProxyProtocolTest, BrokenV1HeadersAreInvalid) {
  for (const std::string& bad : std::vector<std::string>{
           "PROXY TCP4 192.0.2.7 10.0.0.1 54321\r\n",            // a field short
           "PROXY TCP4 192.0.2.7 10.0.0.1 54321 2222 9\r\n",     // a field long
           "PROXY TCP4  192.0.2.7 10.0.0.1 54321 2222\r\n",      // double space
           "PROXY TCP4 2001:db8::1 10.0.0.1 54321 2222\r\n",     // family mismatch
           "PROXY TCP6 192.0.2.7 10.0.0.1 54321 2222\r\n",       // family mismatch
           "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2222\r\n",       // port range
           "PROXY TCP4 192.0.2.7 10.0.0.1 054321 2222\r\n",      // leading zero
           "PROXY TCP4 192.0.2.7 10.0.0.1 -1 2222\r\n",          // sign
           "PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n",              // protocol
           "PROXY TCP4 example.com 10.0.0.1 1 2\r\n",            // names
           "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n",                // bare LF
           "PROXY " + std::string(120, 'A'),                     // no end in sight
           std::string("PROXY TCP4\0", 11),                      // NUL
       }) {
    ProxyHeader header = ParseProxyHeader(bad);
    EXPECT_EQ(header.state, State::kInvalid) << bad;
    if (header.state == State::kInvalid) {
      EXPECT_FALSE(header.error.empty());
    }
  }
}

TEST(ProxyProtocolTest, V2Tcp4AndTcp6WithTlvs) {
  std::string bytes = V2Tcp4(std::string("\x04\x00\x03" "abc", 6)) + "SSH-2.0-x\r\n";
  ProxyHeader v4 = ParseProxyHeader(bytes);
  ASSERT_EQ(v4.state, State::kComplete) << v4.error;
  EXPECT_EQ(v4.length, bytes.find("SSH-"));
  EXPECT_EQ(v4.source->ToString(), "192.0.2.7:54321");

  std::string v6_addresses(36, '\0');
  v6_addresses[0] = '\x20';
  v6_addresses[1] = '\x01';
  v6_addresses[2] = '\x0d';
  v6_addresses[3] = '\xb8';
  v6_addresses[15] = '\x07';
  v6_addresses[32] = '\x01';
  v6_addresses[33] = '\x02';
  ProxyHeader v6 = ParseProxyHeader(V2(1, 0x21, v6_addresses));
  ASSERT_EQ(v6.state, State::kComplete) << v6.error;
  EXPECT_EQ(v6.source->ToString(), "[2001:db8::7]:258");
}

TEST(ProxyProtocolTest, V2LocalAndUnspecKeepThePeer) {
  ProxyHeader local = ParseProxyHeader(V2(0, 0x00, ""));
  ASSERT_EQ(local.state, State::kComplete);
  EXPECT_EQ(local.length, 16u);
  EXPECT_FALSE(local.source);
  // LOCAL ignores an address block, as the specification says.
  EXPECT_EQ(ParseProxyHeader(V2(0, 0x11, std::string(12, 'x'))).state, State::kComplete);
  ProxyHeader unspec = ParseProxyHeader(V2(1, 0x00, ""));
  ASSERT_EQ(unspec.state, State::kComplete);
  EXPECT_FALSE(unspec.source);
}

TEST(ProxyProtocolTest, BrokenV2HeadersAreInvalid) {
  std::string wrong_version = V2Tcp4();
  wrong_version[12] = '\x11';
  std::string wrong_command = V2Tcp4();
  wrong_command[12] = '\x22';
  std::string huge = V2(1, 0x11, std::string(12, '\0'));
  huge[14] = '\xff';
  huge[15] = '\xff';
  for (const std::string& bad : {wrong_version, wrong_command, huge, V2(1, 0x11, std::string(8, '\0')),
                                 V2(1, 0x12, std::string(12, '\0')), V2(1, 0x31, std::string(216, '\0'))}) {
    ProxyHeader header = ParseProxyHeader(bad);
    EXPECT_EQ(header.state, State::kInvalid) << header.error;
  }
}

}  // namespace
}  // namespace pushgate
