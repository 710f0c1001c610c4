#include "receive-hook/log_relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "util/fd.h"

namespace pushgate {
namespace {

class LogRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    read_.Reset(fds[0]);
    write_.Reset(fds[1]);
  }

  // Everything the pusher can read now.
  std::string ReadAll() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(read_.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  UniqueFd read_, write_;
};

TEST_F(LogRelayTest, BytesPassUnchangedAndPushgatesLinesStartOnTheirOwn) {
  LogRelay relay(write_.get(), -1, std::chrono::seconds(20));
  ASSERT_TRUE(relay.Write("step 1\nhalf a line").ok());
  ASSERT_TRUE(relay.Say("-----> pushgate speaks").ok());
  ASSERT_TRUE(relay.Write("\r\nbinary \x01\xff\n").ok());
  ASSERT_TRUE(relay.Drain(std::chrono::seconds(5)).ok());
  EXPECT_EQ(ReadAll(), "step 1\nhalf a line\n-----> pushgate speaks\n\r\nbinary \x01\xff\n");
}

// A pusher who stops reading loses build output beyond the bound, never
// pushgate's own lines, and is told how much was lost once they read again.
TEST_F(LogRelayTest, OutputDroppedWhileThePusherDoesNotReadIsCountedAndSaid) {
  LogRelay relay(write_.get(), -1, std::chrono::seconds(20));
  const std::string chunk(64 * 1024, 'x');
  // The pipe's buffer plus the relay's bound; a liveness bound on the loop.
  for (int i = 0; i < 1000 && relay.dropped_bytes() == 0; ++i) ASSERT_TRUE(relay.Write(chunk).ok());
  ASSERT_GT(relay.dropped_bytes(), 0u);
  uint64_t dropped = relay.dropped_bytes();
  ASSERT_TRUE(relay.Say("-----> still here").ok());  // kept though the buffer is full

  std::string seen = ReadAll();
  while (relay.has_pending()) {
    ASSERT_TRUE(relay.Pump().ok());
    seen += ReadAll();
  }
  ASSERT_TRUE(relay.Write("after\n").ok());
  ASSERT_TRUE(relay.Drain(std::chrono::seconds(5)).ok());
  seen += ReadAll();
  EXPECT_NE(seen.find("-----> still here\n"), std::string::npos);
  std::string notice = "       [" + std::to_string(dropped) +
                       " bytes of build output dropped: the connection did not keep up]\nafter\n";
  EXPECT_NE(seen.find(notice), std::string::npos) << seen.substr(seen.size() > 300 ? seen.size() - 300 : 0);
  EXPECT_EQ(relay.dropped_bytes(), dropped);  // nothing after the reader caught up
}

// The kept log has what the pusher saw and what they missed, without the
// relay's own notes (keepalives, drops).
TEST_F(LogRelayTest, TheTranscriptKeepsWhatThePusherMissedAndNoKeepalives) {
  LogRelay relay(write_.get(), -1, std::chrono::milliseconds(1));
  ASSERT_TRUE(relay.Write("half").ok());
  ASSERT_TRUE(relay.Say("-----> pushgate speaks").ok());
  ::usleep(5000);
  ASSERT_TRUE(relay.KeepAliveIfSilent().ok());
  ASSERT_EQ(relay.keepalives(), 1);
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 1000 && relay.dropped_bytes() == 0; ++i) ASSERT_TRUE(relay.Write(chunk).ok());
  ASSERT_GT(relay.dropped_bytes(), 0u);
  std::string transcript = relay.Transcript();
  EXPECT_EQ(transcript.rfind("half\n-----> pushgate speaks\nxxxx", 0), 0u) << transcript.substr(0, 80);
  EXPECT_EQ(transcript.find("still building"), std::string::npos);
  EXPECT_EQ(transcript.size(), 4 + 1 + 22 + 1 + relay.relayed_bytes() - 4 + relay.dropped_bytes());
}

}  // namespace
}  // namespace pushgate
