#include "source-archive/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace pushgate {

struct GzipEncoder::Stream {
  z_stream z;
  bool initialized = false;
  ~Stream() {
    if (initialized) deflateEnd(&z);
  }
};

GzipEncoder::GzipEncoder(std::function<Status(std::string_view)> out)
    : stream_(new Stream), out_(std::move(out)), buffer_(64 * 1024, '\0') {}

GzipEncoder::~GzipEncoder() = default;

Result<std::unique_ptr<GzipEncoder>> GzipEncoder::Create(int level, std::function<Status(std::string_view)> out) {
  std::unique_ptr<GzipEncoder> encoder(new GzipEncoder(std::move(out)));
  z_stream& z = encoder->stream_->z;
  std::memset(&z, 0, sizeof z);
  // 15 + 16: a 32 KiB window with a gzip header and trailer instead of
  // zlib's; zlib writes the header with no name and a zero mtime.
  int rc = deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    return rc == Z_MEM_ERROR ? Status::ResourceExhausted("zlib: out of memory")
                             : Status::InvalidArgument("zlib: cannot compress at level " + std::to_string(level));
  }
  encoder->stream_->initialized = true;
  return encoder;
}

Status GzipEncoder::Deflate(std::string_view data, int flush) {
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buffer_.data());
    z.avail_out = static_cast<uInt>(buffer_.size());
    int rc = deflate(&z, flush);
    if (rc == Z_STREAM_ERROR) return Status::Internal("zlib: the compression stream is broken");
    size_t produced = buffer_.size() - z.avail_out;
    if (produced > 0) PG_RETURN_IF_ERROR(out_(std::string_view(buffer_.data(), produced)));
    if (flush == Z_FINISH ? rc == Z_STREAM_END : z.avail_in == 0 && z.avail_out > 0) return Status::OK();
  }
}

Status GzipEncoder::Write(std::string_view data) {
  // avail_in is 32 bits wide.
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 1 << 30);
    PG_RETURN_IF_ERROR(Deflate(data.substr(0, n), Z_NO_FLUSH));
    data.remove_prefix(n);
  }
  return Status::OK();
}

Status GzipEncoder::Finish() { return Deflate({}, Z_FINISH); }

}  // namespace pushgate
