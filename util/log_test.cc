#include "util/log.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/testing/testing.h"
#include "util/fs.h"

namespace pushgate::log {
namespace {

TEST(LogTest, FileLinesAreJsonWithContext) {
  testing::TempDir dir;
  Destination d{Destination::Kind::kFile, dir / "pushgate.log"};
  Configure("log-test", d, Level::kInfo);
  SetContext("request_id", "abc123");
  Debug("not at info level");
  Info("push \"done\"", {{"app", "web"}});
  std::string text = testing::ReadFile(dir / "pushgate.log");
  EXPECT_EQ(text.find("not at info level"), std::string::npos);
  EXPECT_NE(text.find("\"program\":\"log-test\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"msg\":\"push \\\"done\\\"\",\"request_id\":\"abc123\",\"app\":\"web\"}\n"), std::string::npos)
      << text;
  Configure("log-test", {}, Level::kInfo);
}

// A file destination rotates to PATH.1 past its limit: the file never grows
// much beyond it, and the newest lines are always in PATH.
TEST(LogTest, FileRotatesPastItsLimit) {
  testing::TempDir dir;
  Destination d{Destination::Kind::kFile, dir / "pushgate.log"};
  d.rotate_bytes = 2000;
  Configure("log-test", d, Level::kInfo);
  for (int i = 0; i < 100; ++i) Info("line " + std::to_string(i));
  std::string current = testing::ReadFile(dir / "pushgate.log");
  std::string previous = testing::ReadFile(dir / "pushgate.log.1");
  Configure("log-test", {}, Level::kInfo);
  EXPECT_LT(current.size(), 2000u + 200);
  EXPECT_GE(previous.size(), 2000u);
  EXPECT_LT(previous.size(), 2000u + 200);
  EXPECT_NE(current.find("\"line 99\""), std::string::npos) << current;
  EXPECT_FALSE(PathExists(dir / "pushgate.log.2"));
}

// Threads of one process (the reaper's trash emptier beside its main loop)
// log through rotations: each line goes whole into the log, and a rotation
// never closes the descriptor another thread is writing to, whose number
// the next pipe or socket opened would then get, and its log lines with it.
TEST(LogTest, ThreadsLoggingThroughRotationsWriteOnlyToTheLog) {
  testing::TempDir dir;
  Destination d{Destination::Kind::kFile, dir / "pushgate.log"};
  d.rotate_bytes = 1;  // every line rotates: as many races as there can be
  Configure("log-test", d, Level::kInfo);
  std::atomic<bool> done{false};
  std::atomic<int> stray_bytes{0};
  // Opens pipes all the while, as a process does, and checks that none
  // receives a log line.
  std::thread bystander([&] {
    while (!done) {
      int fds[2];
      if (::pipe(fds) != 0) continue;
      std::this_thread::yield();
      struct pollfd p = {fds[0], POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        char buffer[4096];
        ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n > 0) stray_bytes += static_cast<int>(n);
      }
      ::close(fds[0]);
      ::close(fds[1]);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([t] {
      for (int i = 0; i < 3000; ++i) Info("thread " + std::to_string(t) + " line " + std::to_string(i));
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  bystander.join();
  Info("last line");
  Configure("log-test", {}, Level::kInfo);
  EXPECT_EQ(stray_bytes.load(), 0) << "log lines went to a pipe that reused a closed log descriptor";
  for (const char* name : {"pushgate.log", "pushgate.log.1"}) {
    std::string text = testing::ReadFile(dir / name);
    size_t start = 0;
    for (size_t end = text.find('\n'); end != std::string::npos; start = end + 1, end = text.find('\n', start)) {
      std::string_view line(text.data() + start, end - start);
      EXPECT_TRUE(line.starts_with("{\"time\":") && line.ends_with("}")) << name << ": " << line;
    }
    EXPECT_EQ(start, text.size()) << name << " ends in a partial line";
  }
  // Written after the threads, and rotated at once like every line.
  EXPECT_NE(testing::ReadFile(dir / "pushgate.log.1").find("\"last line\""), std::string::npos);
}

}  // namespace
}  // namespace pushgate::log
