// Streaming gzip (RFC 1952) compression: the zlib adapter.
//
// Source archives are compressed here rather than by libarchive's gzip
// filter, whose zlib state leaks when a write fails halfway (libarchive
// 3.6 never runs the filter's close once the archive is in its fatal
// state). The output is deterministic: no file name, no modification time.
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
  // Compressed bytes go to `out` as they are produced. `level` is zlib's
  // (1 fastest ... 9 smallest).
  static Result<std::unique_ptr<GzipEncoder>> Create(int level, std::function<Status(std::string_view)> out);
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  Status Write(std::string_view data);
  // Flushes what is left and the gzip trailer. Nothing may be written after.
  Status Finish();

 private:
  struct Stream;
  explicit GzipEncoder(std::function<Status(std::string_view)> out);
  Status Deflate(std::string_view data, int flush);

  std::unique_ptr<Stream> stream_;
  std::function<Status(std::string_view)> out_;
  std::string buffer_;
};

}  // namespace pushgate

#endif  // PUSHGATE_SOURCE_ARCHIVE_GZIP_H_
