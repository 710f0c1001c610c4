#include "util/log.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"
#include "util/fs.h"

namespace pushgate::log {
namespace {

TEST(LogTest, FileLinesAreJsonWithContext) {
  testing::TempDir dir;
  Destination d{Destination::Kind::kFile, dir / "pushgate.log"};
  Configure("log-test", d, Level::kInfo);
  SetContext("request_id", "abc123");
  Debug("not at info level");
  Info("push \"done\"", {{"app", "web"}});
  std::string text = testing::ReadFile(dir / "pushgate.log");
  EXPECT_EQ(text.find("not at info level"), std::string::npos);
  EXPECT_NE(text.find("\"program\":\"log-test\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"msg\":\"push \\\"done\\\"\",\"request_id\":\"abc123\",\"app\":\"web\"}\n"),
            std::string::npos)
      << text;
  Configure("log-test", {}, Level::kInfo);
}

// A file destination rotates to PATH.1 past its limit: the file never grows
// much beyond it, and the newest lines are always in PATH.
TEST(LogTest, FileRotatesPastItsLimit) {
  testing::TempDir dir;
  Destination d{Destination::Kind::kFile, dir / "pushgate.log"};
  d.rotate_bytes = 2000;
  Configure("log-test", d, Level::kInfo);
  for (int i = 0; i < 100; ++i) Info("line " + std::to_string(i));
  std::string current = testing::ReadFile(dir / "pushgate.log");
  std::string previous = testing::ReadFile(dir / "pushgate.log.1");
  Configure("log-test", {}, Level::kInfo);
  EXPECT_LT(current.size(), 2000u + 200);
  EXPECT_GE(previous.size(), 2000u);
  EXPECT_LT(previous.size(), 2000u + 200);
  EXPECT_NE(current.find("\"line 99\""), std::string::npos) << current;
  EXPECT_FALSE(PathExists(dir / "pushgate.log.2"));
}

}  // namespace
}  // namespace pushgate::log
