#include "source-archive/gzip.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

std::string Compress(std::string_view data, int level, size_t piece, uint64_t* stored = nullptr) {
  std::string out;
  Result<std::unique_ptr<GzipEncoder>> gzip = GzipEncoder::Create(level, [&](std::string_view bytes) {
    out += bytes;
    return Status::OK();
  });
  EXPECT_TRUE(gzip.ok());
  for (size_t at = 0; at < data.size(); at += piece) EXPECT_TRUE((*gzip)->Write(data.substr(at, piece)).ok());
  EXPECT_TRUE((*gzip)->Finish().ok());
  if (stored != nullptr) *stored = (*gzip)->stored_bytes();
  return out;
}

std::string Gunzip(const std::string& gz) {
  testing::TempDir dir;
  testing::WriteFile(dir / "x.gz", gz);
  CapturedRun gunzip = testing::RunCommand({"gzip", "-dc", dir / "x.gz"});
  EXPECT_TRUE(gunzip.status.success()) << gunzip.output;
  return gunzip.output;
}

// What a compressed file looks like to zlib: no byte predicts the next.
std::string Noise(size_t bytes, uint32_t seed) {
  std::string noise(bytes, '\0');
  for (char& c : noise) c = static_cast<char>((seed = seed * 1103515245 + 12345) >> 24);
  return noise;
}

// Source code, roughly: lines that repeat with small changes.
std::string Text(size_t bytes) {
  std::string text;
  for (int line = 0; text.size() < bytes; ++line) {
    text += "    if (status.ok()) return Deploy(app_" + std::to_string(line % 97) + ", release);\n";
  }
  text.resize(bytes);
  return text;
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

// Noise is stored after its first segment, and text that follows it is
// compressed again within kStoredSegments segments; the bytes do not depend
// on how the input was split into writes.
TEST(GzipTest, DataThatDoesNotShrinkIsStoredAndWhatFollowsIsCompressedAgain) {
  constexpr size_t kSegment = GzipEncoder::kSegmentBytes;
  const size_t noise_bytes = 20 * kSegment;
  const size_t text_bytes = 40 * kSegment;
  std::string data = Noise(noise_bytes, 11) + Text(text_bytes);
  uint64_t stored = 0;
  std::string gz = Compress(data, 1, 10240, &stored);
  EXPECT_TRUE(gz == Compress(data, 1, 65536 + 3)) << "the pieces must not change the output";
  EXPECT_EQ(Gunzip(gz), data);
  // The first segment of noise is tried at level 1, then 7 of every 8 are
  // stored; the text's first segment at most is stored before level 1
  // finds it compresses.
  EXPECT_GE(stored, (noise_bytes - kSegment) * 7 / 8) << "noise was searched for matches";
  EXPECT_LE(stored, noise_bytes + GzipEncoder::kStoredSegments * kSegment);
  // The text after the noise still compresses: most of its bytes are gone.
  EXPECT_LT(gz.size(), noise_bytes + noise_bytes / 50 + text_bytes / 4);

  uint64_t text_stored = 1;
  std::string text = Text(text_bytes);
  EXPECT_LT(Compress(text, 1, 10240, &text_stored).size(), text_bytes / 4);
  EXPECT_EQ(text_stored, 0u) << "text that compresses was stored";
}

// A tree's last segment is short, and may be in a stored run.
TEST(GzipTest, AShortLastSegmentRoundTrips) {
  for (size_t tail : {size_t{0}, size_t{1}, GzipEncoder::kSegmentBytes - 1}) {
    std::string data = Noise(3 * GzipEncoder::kSegmentBytes + tail, 5);
    uint64_t stored = 0;
    std::string gz = Compress(data, 1, 4096, &stored);
    EXPECT_EQ(Gunzip(gz), data) << tail;
    EXPECT_EQ(stored, 2 * GzipEncoder::kSegmentBytes + tail) << tail;
  }
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
