#include "util/external_sort.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/testing/testing.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Merged(ExternalSorter& sorter) {
  Pairs out;
  Status merged = sorter.Merge([&](std::string_view key, std::string_view value) {
    out.emplace_back(key, value);
    return Status::OK();
  });
  EXPECT_TRUE(merged.ok()) << merged.ToString();
  return out;
}

// The model: a map where a later value replaces an earlier one.
void ExpectSortsLikeAMap(size_t run_bytes, int pairs, size_t max_value, bool expect_spill) {
  testing::TempDir dir;
  ExternalSorter sorter(dir.path(), run_bytes);
  std::map<std::string, std::string> model;
  std::mt19937 rng(static_cast<unsigned>(pairs));
  for (int i = 0; i < pairs; ++i) {
    // Few distinct keys, so many repeat across runs; bytes above 0x7f and
    // NULs check that the order is unsigned bytewise, as LMDB's.
    std::string key(1 + rng() % 3, '\0');
    for (char& c : key) c = static_cast<char>(rng() % 4 == 0 ? 0xF0 + rng() % 16 : rng() % 8);
    std::string value(rng() % (max_value + 1), static_cast<char>('a' + i % 26));
    ASSERT_TRUE(sorter.Add(key, value).ok());
    model[key] = value;
  }
  EXPECT_EQ(sorter.runs_spilled() > 0, expect_spill);
  Pairs out = Merged(sorter);
  EXPECT_EQ(out, Pairs(model.begin(), model.end()));
  // The spill file was unlinked when it was made.
  Result<std::vector<std::string>> left = ListDir(dir.path());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST(ExternalSorterTest, InMemoryKeepsTheLastValueOfEachKey) { ExpectSortsLikeAMap(1 << 20, 2000, 20, false); }

TEST(ExternalSorterTest, SpilledRunsMergeToTheSameAnswer) { ExpectSortsLikeAMap(512, 5000, 20, true); }

// Values larger than the reader's 64 KiB window make it grow.
TEST(ExternalSorterTest, PairsLargerThanTheReadWindowSurviveASpill) { ExpectSortsLikeAMap(1024, 60, 200000, true); }

TEST(ExternalSorterTest, NothingAddedMergesToNothing) {
  testing::TempDir dir;
  ExternalSorter sorter(dir.path(), 64);
  EXPECT_TRUE(Merged(sorter).empty());
}

TEST(ExternalSorterTest, AnUnwritableDirectoryIsAnErrorNamingIt) {
  ExternalSorter sorter("/nonexistent/pushgate-sort", 16);
  Status added = sorter.Add("0123456789", "abcdefghij");
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.message().find("/nonexistent/pushgate-sort"), std::string::npos) << added.ToString();
}

}  // namespace
}  // namespace pushgate
