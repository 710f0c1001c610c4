#include "receive-hook/push_options.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(PushOptionsTest, NamesAndNameValuePairsPass) {
  EXPECT_TRUE(CheckPushOptions({}).ok());
  EXPECT_TRUE(CheckPushOptions({"nocache", "ci.skip", "env=staging", "msg=hello world", "x=", "a=b=c"}).ok());
}

TEST(PushOptionsTest, BadOptionsAreRefusedWithTheReason) {
  std::vector<std::string> many(17, "x");
  EXPECT_EQ(CheckPushOptions(many).message(), "this push carries 17 push options; at most 16 are taken");
  EXPECT_TRUE(CheckPushOptions(std::vector<std::string>(16, "x")).ok());
  EXPECT_NE(CheckPushOptions({"k=" + std::string(255, 'v')}).message().find("is longer than 256 bytes"),
            std::string::npos);
  EXPECT_TRUE(CheckPushOptions({"k=" + std::string(254, 'v')}).ok());
  for (const char* bad : {"", "=x", "-x", ".x", "a b=c", "a;b", "$(id)=1"}) {
    EXPECT_NE(CheckPushOptions({bad}).message().find("does not start with a name of letters"), std::string::npos)
        << bad;
  }
  for (const char* bad : {"k=a\nb", "k=\x1b[31m", "k=\t", "k=\xc3\xa9"}) {
    Status s = CheckPushOptions({bad});
    EXPECT_NE(s.message().find("holds a character that is not printable ASCII"), std::string::npos) << bad;
    EXPECT_EQ(s.message().find('\x1b'), std::string::npos) << "the echo is printable";
  }
}

}  // namespace
}  // namespace pushgate
