#include "util/line_reader.h"

#include <unistd.h>

#include <cerrno>

namespace pushgate {

Result<bool> LineReader::Next(std::string_view& line) {
  for (;;) {
    size_t newline = buffer_.find('\n', start_);
    if (newline != std::string::npos) {
      line = std::string_view(buffer_).substr(start_, newline - start_);
      start_ = newline + 1;
      ++line_number_;
      return true;
    }
    if (buffer_.size() - start_ > max_line_) {
      return Status::InvalidArgument("line " + std::to_string(line_number_ + 1) + " is longer than " +
                                     std::to_string(max_line_) + " bytes");
    }
    if (eof_) {
      if (start_ == buffer_.size()) return false;
      line = std::string_view(buffer_).substr(start_);
      start_ = buffer_.size();
      ++line_number_;
      return true;
    }
    buffer_.erase(0, start_);
    start_ = 0;
    size_t old_size = buffer_.size();
    buffer_.resize(old_size + 65536);
    ssize_t n;
    do {
      n = ::read(fd_, buffer_.data() + old_size, 65536);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      buffer_.resize(old_size);
      return Status::FromErrno(errno, "read");
    }
    buffer_.resize(old_size + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
}

}  // namespace pushgate
