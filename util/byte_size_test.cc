#include "util/byte_size.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(ByteSizeTest, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("1234"), 1234u);
  EXPECT_EQ(*ParseByteSize("10B"), 10u);
  EXPECT_EQ(*ParseByteSize("100KiB"), 100u << 10);
  EXPECT_EQ(*ParseByteSize("512MiB"), uint64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("1GiB"), uint64_t{1} << 30);
  EXPECT_EQ(*ParseByteSize("2 GiB"), uint64_t{2} << 30);
  EXPECT_EQ(*ParseByteSize("3TiB"), uint64_t{3} << 40);
  EXPECT_EQ(*ParseByteSize("2GB"), 2000000000u);
  EXPECT_EQ(*ParseByteSize("5MB"), 5000000u);
}

TEST(ByteSizeTest, RefusesWhatIsNotASize) {
  for (const char* text : {"", "GiB", "1.5GiB", "-1", "1 gib", "1gb", "12 ", "1GiBs", "99999999999999999999",
                           "20000000000TiB", " 1"}) {
    Result<uint64_t> size = ParseByteSize(text);
    EXPECT_FALSE(size.ok()) << text;
    if (!size.ok()) {
      EXPECT_NE(size.status().message().find("512MiB"), std::string::npos);
    }
  }
}

TEST(ByteSizeTest, FormatsForPeople) {
  EXPECT_EQ(FormatByteSize(0), "0 bytes");
  EXPECT_EQ(FormatByteSize(1), "1 byte");
  EXPECT_EQ(FormatByteSize(1023), "1023 bytes");
  EXPECT_EQ(FormatByteSize(1536), "1.5 KiB");
  EXPECT_EQ(FormatByteSize(uint64_t{512} << 20), "512.0 MiB");
  EXPECT_EQ(FormatByteSize(uint64_t{3} << 30), "3.0 GiB");
}

}  // namespace
}  // namespace pushgate
