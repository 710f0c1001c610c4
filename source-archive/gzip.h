// Streaming gzip (RFC 1952) compression: the zlib adapter.
//
// Source archives are compressed here rather than by libarchive's gzip
// filter, whose zlib state leaks when a write fails halfway (libarchive
// 3.6 never runs the filter's close once the archive is in its fatal
// state). The output is deterministic: no file name, no modification time,
// and the same bytes however the input is split into writes.
//
// Data that does not compress is stored rather than searched for matches:
// an app's images, jars and archives are compressed already, and zlib's
// fastest level still takes about 50 MB/s on such data where storing it
// takes over 600 (2 cores, 2026-12-07). The input is taken in segments of
// kSegmentBytes; one that the level asked for does not shrink by a tenth
// is followed by kStoredSegments stored as they are, then a segment is
// tried at that level again. What compresses loses at most those stored
// segments' gain after a run of data that did not.
#ifndef PUSHGATE_SOURCE_ARCHIVE_GZIP_H_
#define PUSHGATE_SOURCE_ARCHIVE_GZIP_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

class GzipEncoder {
 public:
  static constexpr size_t kSegmentBytes = 128 * 1024;
  static constexpr int kStoredSegments = 7;

  // Compressed bytes go to `out` as they are produced. `level` is zlib's
  // (1 fastest ... 9 smallest).
  static Result<std::unique_ptr<GzipEncoder>> Create(int level, std::function<Status(std::string_view)> out);
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  Status Write(std::string_view data);
  // Flushes what is left and the gzip trailer. Nothing may be written after.
  Status Finish();

  // Input bytes stored uncompressed because their segment did not shrink.
  uint64_t stored_bytes() const { return stored_bytes_; }

 private:
  struct Stream;
  GzipEncoder(int level, std::function<Status(std::string_view)> out);
  Status Deflate(std::string_view data, int flush);
  // Compresses the full segment_ and decides how the next one is.
  Status CompressSegment();
  // Switches zlib to `level` at a block boundary.
  Status SetLevel(int level);

  std::unique_ptr<Stream> stream_;
  std::function<Status(std::string_view)> out_;
  std::string buffer_;
  const int level_;
  // zlib is given whole segments only: how deflate splits stored blocks
  // depends on how its input arrives, and the bytes must not.
  std::string segment_;
  int stored_left_ = 0;  // segments still to store, the current one included
  uint64_t stored_bytes_ = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_SOURCE_ARCHIVE_GZIP_H_
