#include "util/duration.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("30s")->count(), 30000);
  EXPECT_EQ(ParseDuration("10m")->count(), 600000);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("0s")->count(), 0);
}

TEST(DurationTest, RejectsMalformed) {
  for (const char* bad : {"", "30", "s", "10 m", "-5s", "1.5s", "10x", "5sm", "ms", "99999999999999999999h"}) {
    Result<Duration> d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_NE(d.status().message().find("500ms, 30s, 10m or 2h"), std::string::npos);
    }
  }
}

TEST(DurationTest, FormatsReadably) {
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(Duration(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(Duration(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(30)), "30m");
  EXPECT_EQ(*ParseDuration(FormatDuration(Duration(3723004))), Duration(3723004));
}

}  // namespace
}  // namespace pushgate
