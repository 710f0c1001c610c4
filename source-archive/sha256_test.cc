#include "source-archive/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "util/sha256.h"

namespace pushgate {
namespace {

// A small input is hashed in process, a large one by libcrypto; both must
// give the standard digest, however the input is split.
std::string HashInPieces(const std::string& data, size_t piece) {
  Sha256 hash;
  for (size_t at = 0; at < data.size(); at += piece) hash.Update(std::string_view(data).substr(at, piece));
  Result<std::string> hex = hash.FinishHex();
  EXPECT_TRUE(hex.ok()) << hex.status().ToString();
  return hex.ok() ? *hex : "";
}

TEST(ArchiveSha256Test, StandardVectors) {
  EXPECT_EQ(HashInPieces("", 1), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashInPieces("abc", 1), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The long-message vector: past kSmallHashInput, so libcrypto hashes it.
  ASSERT_GT(1000000u, kSmallHashInput);
  EXPECT_EQ(HashInPieces(std::string(1000000, 'a'), 4096),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ArchiveSha256Test, SmallAndLargeInputsAgreeWithTheInProcessDigest) {
  std::string data;
  for (size_t i = 0; data.size() < kSmallHashInput + 70000; ++i) data += std::to_string(i * 2654435761u) + ",";
  for (size_t size : {kSmallHashInput - 1, kSmallHashInput, kSmallHashInput + 1, data.size()}) {
    std::string input = data.substr(0, size);
    std::string expected = LowerHex(Sha256Bytes(input));
    EXPECT_EQ(HashInPieces(input, 1000), expected) << size;
    EXPECT_EQ(HashInPieces(input, input.size()), expected) << size;
  }
}

TEST(ArchiveSha256Test, AFinishedHashCannotBeFinishedAgain) {
  for (size_t size : {size_t{3}, kSmallHashInput + 1}) {
    Sha256 hash;
    hash.Update(std::string(size, 'x'));
    ASSERT_TRUE(hash.FinishHex().ok());
    EXPECT_FALSE(hash.FinishHex().ok()) << size;
  }
}

}  // namespace
}  // namespace pushgate
