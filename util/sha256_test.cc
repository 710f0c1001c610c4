#include "util/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace pushgate {
namespace {

TEST(Sha256Test, LowerHexWritesTwoDigitsAByte) {
  EXPECT_EQ(LowerHex(std::string("\x00\xff\x10\xA5", 4)), "00ff10a5");
  EXPECT_EQ(LowerHex(""), "");
}

// FIPS 180-4's examples and the long-message vector (as sha256sum prints).
TEST(Sha256Test, StandardVectors) {
  EXPECT_EQ(LowerHex(Sha256Bytes("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(LowerHex(Sha256Bytes("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(LowerHex(Sha256Bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(LowerHex(Sha256Bytes(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length around the block and padding boundaries, fed whole and in
// pieces of every size, gives the same digest.
TEST(Sha256Test, TheSplitOfTheInputDoesNotMatter) {
  std::string data;
  for (int i = 0; i < 200; ++i) data += static_cast<char>(i * 7 + 3);
  for (size_t length : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200}) {
    std::string whole = Sha256Bytes(std::string_view(data).substr(0, length));
    for (size_t step = 1; step <= 65; ++step) {
      Sha256Digest hash;
      for (size_t at = 0; at < length; at += step)
        hash.Update(std::string_view(data).substr(at, std::min(step, length - at)));
      EXPECT_EQ(hash.Finish(), whole) << length << " in pieces of " << step;
    }
  }
}

}  // namespace
}  // namespace pushgate
