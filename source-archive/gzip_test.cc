#include "source-archive/gzip.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

std::string Compress(std::string_view data, int level, size_t piece) {
  std::string out;
  Result<std::unique_ptr<GzipEncoder>> gzip = GzipEncoder::Create(level, [&](std::string_view bytes) {
    out += bytes;
    return Status::OK();
  });
  EXPECT_TRUE(gzip.ok());
  for (size_t at = 0; at < data.size(); at += piece) EXPECT_TRUE((*gzip)->Write(data.substr(at, piece)).ok());
  EXPECT_TRUE((*gzip)->Finish().ok());
  return out;
}

TEST(GzipTest, GunzipGivesTheInputBackAndTheOutputIsDeterministic) {
  std::string data;
  uint32_t state = 3;
  for (int i = 0; i < 500000; ++i) data += static_cast<char>(i % 3 == 0 ? (state = state * 1103515245 + 12345) >> 24 : 'a');
  std::string gz = Compress(data, 6, 7777);
  EXPECT_EQ(gz, Compress(data, 6, 65536)) << "the pieces must not change the output";
  EXPECT_EQ(gz.substr(0, 3), std::string("\x1f\x8b\x08", 3));
  EXPECT_EQ(gz.substr(4, 4), std::string(4, '\0')) << "no modification time";
  EXPECT_EQ(gz[3], '\0') << "no name, comment or extra field";
  testing::TempDir dir;
  testing::WriteFile(dir / "x.gz", gz);
  CapturedRun gunzip = testing::RunCommand({"gzip", "-dc", dir / "x.gz"});
  ASSERT_TRUE(gunzip.status.success());
  EXPECT_EQ(gunzip.output, data);
  EXPECT_LT(Compress(data, 9, 65536).size(), Compress(data, 1, 65536).size());
}

TEST(GzipTest, AnOutputFailureIsReturned) {
  int calls = 0;
  Result<std::unique_ptr<GzipEncoder>> gzip = GzipEncoder::Create(1, [&](std::string_view) {
    return ++calls > 1 ? Status::ResourceExhausted("injected: disk full") : Status::OK();
  });
  ASSERT_TRUE(gzip.ok());
  std::string noise(1 << 20, '\0');
  uint32_t state = 5;
  for (char& c : noise) c = static_cast<char>((state = state * 1103515245 + 12345) >> 24);
  Status s = (*gzip)->Write(noise);
  if (s.ok()) s = (*gzip)->Finish();
  EXPECT_EQ(s.message(), "injected: disk full");
  EXPECT_FALSE(GzipEncoder::Create(42, [](std::string_view) { return Status::OK(); }).ok());
}

}  // namespace
}  // namespace pushgate
