#include "util/spelling.h"

#include <gtest/gtest.h>

#include <array>

namespace pushgate {
namespace {

TEST(EditDistanceTest, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("build", "build"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("timout", "timeout"), 1u);
  EXPECT_EQ(EditDistance("buuild", "build"), 1u);
  EXPECT_EQ(EditDistance("bulid", "build"), 1u);  // a swap is one edit
  EXPECT_EQ(EditDistance("biuld", "build"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

constexpr std::array<std::string_view, 4> kWords = {"user", "key", "app", "status"};

TEST(NearestWordTest, SuggestsOnlyWordsCloseEnoughToBeTypos) {
  EXPECT_EQ(NearestWord("usr", kWords), "user");
  EXPECT_EQ(NearestWord("apps", kWords), "app");
  EXPECT_EQ(NearestWord("stauts", kWords), "status");
  EXPECT_EQ(NearestWord("deploy", kWords), "");
  EXPECT_EQ(NearestWord("x", kWords), "");
  EXPECT_EQ(NearestWord("usr", std::span<const std::string_view>()), "");
}

TEST(NearestWordTest, DidYouMeanIsReadyToAppend) {
  EXPECT_EQ(DidYouMean("usr", kWords), "; did you mean user?");
  EXPECT_EQ(DidYouMean("frobnicate", kWords), "");
}

}  // namespace
}  // namespace pushgate
