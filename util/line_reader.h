// Reads a file descriptor line by line with a fixed buffer, so inputs of any
// size (a million-key authorized_keys file, a hook's ref list) are processed
// in constant memory.
#ifndef PUSHGATE_UTIL_LINE_READER_H_
#define PUSHGATE_UTIL_LINE_READER_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

class LineReader {
 public:
  // Does not own `fd`. Lines longer than `max_line` are an error, not split.
  explicit LineReader(int fd, size_t max_line = 64 * 1024) : fd_(fd), max_line_(max_line) {}

  // Sets `line` to the next line without its '\n' and returns true, or
  // returns false at end of input. A final line without '\n' is returned too.
  // `line` stays valid until the next call.
  Result<bool> Next(std::string_view& line);

  size_t line_number() const { return line_number_; }

 private:
  int fd_;
  size_t max_line_;
  std::string buffer_;
  size_t start_ = 0;
  bool eof_ = false;
  size_t line_number_ = 0;
};

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_LINE_READER_H_
