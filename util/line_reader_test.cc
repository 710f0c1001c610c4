#include "util/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "util/fs.h"

namespace pushgate {
namespace {

std::vector<std::string> ReadAllLines(const std::string& input, size_t max_line, Status* status) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    EXPECT_TRUE(WriteAll(fds[1], input).ok());
    ::close(fds[1]);
  });
  LineReader reader(fds[0], max_line);
  std::vector<std::string> lines;
  std::string_view line;
  for (;;) {
    Result<bool> more = reader.Next(line);
    if (!more.ok()) {
      *status = more.status();
      break;
    }
    if (!*more) break;
    lines.emplace_back(line);
  }
  // Drain so the writer can finish even after an error.
  char buf[4096];
  while (::read(fds[0], buf, sizeof buf) > 0) {
  }
  writer.join();
  ::close(fds[0]);
  return lines;
}

TEST(LineReaderTest, SplitsLinesAndKeepsLastUnterminatedLine) {
  Status s;
  auto lines = ReadAllLines("a\n\nbc\nlast", 1024, &s);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "", "bc", "last"}));
}

TEST(LineReaderTest, HandlesLinesAcrossBufferBoundaries) {
  std::string input;
  std::vector<std::string> expected;
  for (int i = 0; i < 20000; ++i) {
    expected.push_back(std::string(static_cast<size_t>(i % 97), 'x') + std::to_string(i));
    input += expected.back() + "\n";
  }
  Status s;
  EXPECT_EQ(ReadAllLines(input, 1024, &s), expected);
  EXPECT_TRUE(s.ok());
}

TEST(LineReaderTest, RefusesOverlongLine) {
  Status s;
  auto lines = ReadAllLines("ok\n" + std::string(200000, 'y') + "\n", 1000, &s);
  EXPECT_EQ(lines, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace pushgate
