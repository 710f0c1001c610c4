#include "util/ssh_wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pushgate {
namespace {

TEST(DecodeBase64Test, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(DecodeBase64(""), "");
}

TEST(DecodeBase64Test, RefusesForeignCharactersAndInnerPadding) {
  EXPECT_FALSE(DecodeBase64("aGV sbG8="));
  EXPECT_FALSE(DecodeBase64("aG=VsbG8"));
  EXPECT_FALSE(DecodeBase64("aGVs-G8="));
}

TEST(EncodeBase64Test, PadsOnlyWhenAskedAndRoundTrips) {
  EXPECT_EQ(EncodeBase64("hello", true), "aGVsbG8=");
  EXPECT_EQ(EncodeBase64("hello", false), "aGVsbG8");
  EXPECT_EQ(EncodeBase64("hell", true), "aGVsbA==");
  EXPECT_EQ(EncodeBase64("hel", true), "aGVs");
  EXPECT_EQ(EncodeBase64("", true), "");
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte += static_cast<char>(i);
  EXPECT_EQ(DecodeBase64(EncodeBase64(every_byte, true)), every_byte);
  EXPECT_EQ(DecodeBase64(EncodeBase64(every_byte.substr(1), false)), every_byte.substr(1));
}

TEST(WireReaderTest, ReadsFieldsInOrder) {
  std::string wire = std::string("\x07\0\0\0\x03" "abc", 8) + std::string("\0\0\0\0\0\0\x01\x02", 8);
  WireReader in(wire);
  uint8_t byte = 0;
  uint32_t length = 0;
  uint64_t number = 0;
  ASSERT_TRUE(in.ReadByte(byte));
  EXPECT_EQ(byte, 7);
  WireReader again(std::string_view(wire).substr(1));
  std::string_view text;
  ASSERT_TRUE(again.ReadString(text));
  EXPECT_EQ(text, "abc");
  ASSERT_TRUE(again.ReadU64(number));
  EXPECT_EQ(number, 0x102u);
  EXPECT_TRUE(again.empty());
  ASSERT_TRUE(in.ReadU32(length));
  EXPECT_EQ(length, 3u);
}

TEST(WireReaderTest, AStringLongerThanItsInputFailsAndStaysFailed) {
  std::string wire("\0\0\0\x09" "abc", 7);
  WireReader in(wire);
  std::string_view text;
  EXPECT_FALSE(in.ReadString(text));
  EXPECT_FALSE(in.ok());
  uint8_t byte = 0;
  EXPECT_FALSE(in.ReadByte(byte));
}

}  // namespace
}  // namespace pushgate

namespace pushgate {
namespace {

// Fingerprints as `ssh-keygen -lf` printed them for these keys.
TEST(KeyLineSha256FingerprintTest, MatchesSshKeygen) {
  EXPECT_EQ(
      KeyLineSha256Fingerprint("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKzBxOMv0ue7Q04Bbx/LLYzAyLm01VT2869I37ZpC2hz test"),
      "SHA256:vvS+T+N9852wtc/E+kcLMw4Jq1ZweasrjzYt0Y6fI2I");
  EXPECT_EQ(KeyLineSha256Fingerprint(
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGxkwl2lKVeg04x45"
                "XrUZchoiZU0M/Ratf0bdmyLKY/2XAjYaf0wAThDtYXaHsJ0lY83Fmddwiz/bF8sDPtEpdw=\t"),
            "SHA256:XHY/t8a+em+G5gkvH+DdgTiL8xK6EAOmG3qAPHFW8yI");
}

// The blob must be what the line says it is: a type the blob does not
// carry, a type off the allowlist, non-canonical base64 or no blob at all
// gives no fingerprint, so a listed line cannot stand in for another key.
TEST(KeyLineSha256FingerprintTest, ALineThatIsNotWhatItSaysHasNone) {
  const std::string blob = "AAAAC3NzaC1lZDI1NTE5AAAAIKzBxOMv0ue7Q04Bbx/LLYzAyLm01VT2869I37ZpC2hz";
  const std::vector<std::string> lines = {"xssh-ed25519 " + blob,
                                          "ssh-rsa " + blob,
                                          "ecdsa-sha2-nistp256 " + blob,
                                          "ssh-ed25519 " + blob + "=",
                                          "ssh-ed25519",
                                          "ssh-ed25519 not-base64!",
                                          "ssh-ed25519 AAAA",
                                          ""};
  for (const std::string& line : lines) {
    EXPECT_EQ(KeyLineSha256Fingerprint(line), std::nullopt) << line;
  }
}

}  // namespace
}  // namespace pushgate
