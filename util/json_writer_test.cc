#include "util/json_writer.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(JsonWriterTest, EscapesControlAndQuotes) {
  EXPECT_EQ(Quote("plain"), "\"plain\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("line\nnext\t\r"), "\"line\\nnext\\t\\r\"");
  EXPECT_EQ(Quote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(Quote("\x7f"), "\"\\u007f\"");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(Quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Quote("\xf0\x9f\x9a\x80"), "\"\xf0\x9f\x9a\x80\"");
  EXPECT_EQ(Quote("bad\xff"), "\"bad\xef\xbf\xbd\"");
  EXPECT_EQ(Quote("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");  // overlong '/'
  EXPECT_EQ(Quote("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
  EXPECT_EQ(Quote("\xe2\x82"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");  // truncated
}

TEST(JsonWriterTest, BuildsObjects) {
  std::string json = JsonObject().Add("s", "x").Add("n", int64_t{-3}).Add("q", "a\"b").Finish();
  EXPECT_EQ(json, "{\"s\":\"x\",\"n\":-3,\"q\":\"a\\\"b\"}");
  EXPECT_EQ(JsonObject().Finish(), "{}");
}

TEST(JsonWriterTest, BuildsStringArrays) {
  EXPECT_EQ(JsonStringArray({}), "[]");
  EXPECT_EQ(JsonStringArray({"nocache", "msg=say \"hi\""}), "[\"nocache\",\"msg=say \\\"hi\\\"\"]");
}

}  // namespace
}  // namespace pushgate
