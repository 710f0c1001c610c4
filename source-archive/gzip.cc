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

GzipEncoder::GzipEncoder(int level, std::function<Status(std::string_view)> out)
    : stream_(new Stream), out_(std::move(out)), buffer_(64 * 1024, '\0'), level_(level) {
  segment_.reserve(kSegmentBytes);
}

GzipEncoder::~GzipEncoder() = default;

Result<std::unique_ptr<GzipEncoder>> GzipEncoder::Create(int level, std::function<Status(std::string_view)> out) {
  std::unique_ptr<GzipEncoder> encoder(new GzipEncoder(level, std::move(out)));
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

Status GzipEncoder::SetLevel(int level) {
  // Everything so far goes out first, so that deflateParams, which would
  // flush it itself, never runs short of output space.
  PG_RETURN_IF_ERROR(Deflate({}, Z_BLOCK));
  z_stream& z = stream_->z;
  z.next_out = reinterpret_cast<Bytef*>(buffer_.data());
  z.avail_out = static_cast<uInt>(buffer_.size());
  int rc = deflateParams(&z, level, Z_DEFAULT_STRATEGY);
  size_t produced = buffer_.size() - z.avail_out;
  if (produced > 0) PG_RETURN_IF_ERROR(out_(std::string_view(buffer_.data(), produced)));
  if (rc != Z_OK) return Status::Internal("zlib: cannot change the compression level");
  return Status::OK();
}

Status GzipEncoder::CompressSegment() {
  z_stream& z = stream_->z;
  uint64_t start = z.total_out;
  PG_RETURN_IF_ERROR(Deflate(segment_, Z_NO_FLUSH));
  segment_.clear();
  if (stored_left_ > 0) {
    stored_bytes_ += kSegmentBytes;
    if (--stored_left_ == 0) PG_RETURN_IF_ERROR(SetLevel(level_));
    return Status::OK();
  }
  // The segment's own output, all of it: a block boundary, not a flush the
  // decoder would see.
  PG_RETURN_IF_ERROR(Deflate({}, Z_BLOCK));
  if ((z.total_out - start) * 10 > kSegmentBytes * 9) {
    PG_RETURN_IF_ERROR(SetLevel(0));
    stored_left_ = kStoredSegments;
  }
  return Status::OK();
}

Status GzipEncoder::Write(std::string_view data) {
  while (!data.empty()) {
    size_t n = std::min(data.size(), kSegmentBytes - segment_.size());
    segment_.append(data.substr(0, n));
    data.remove_prefix(n);
    if (segment_.size() == kSegmentBytes) PG_RETURN_IF_ERROR(CompressSegment());
  }
  return Status::OK();
}

Status GzipEncoder::Finish() {
  if (stored_left_ > 0) stored_bytes_ += segment_.size();
  Status finished = Deflate(segment_, Z_FINISH);
  segment_.clear();
  return finished;
}

}  // namespace pushgate
