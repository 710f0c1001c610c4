#include "metrics/counters.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data-dir/data_dir.h"
#include "tests/testing/testing.h"

namespace pushgate::metrics {
namespace {

using testing::TempDir;

TEST(CountersTest, NothingCountedReadsAsZeros) {
  TempDir dir;
  Result<Snapshot> snap = ReadCounters(dir.path());
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->Get(Counter::kKeyHit), 0u);
  EXPECT_EQ(snap->Get(Histogram::kPushSeconds).Count(), 0u);
}

TEST(CountersTest, AddsAndObservationsAreReadBack) {
  TempDir dir;
  Add(dir.path(), Counter::kKeyDenied);
  Add(dir.path(), Counter::kKeyDenied, 4);
  Add(dir.path(), Counter::kReaperReposRemoved, 7);
  Observe(dir.path(), Histogram::kBuildSeconds, 0.01);  // first bucket (<= 0.05)
  Observe(dir.path(), Histogram::kBuildSeconds, 1.0);   // le="1" (bounds are inclusive)
  Observe(dir.path(), Histogram::kBuildSeconds, 7200);  // above every bound
  Observe(dir.path(), Histogram::kBuildSeconds, -1);    // nonsense is dropped
  Result<Snapshot> snap = ReadCounters(dir.path());
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->Get(Counter::kKeyDenied), 5u);
  EXPECT_EQ(snap->Get(Counter::kReaperReposRemoved), 7u);
  EXPECT_EQ(snap->Get(Counter::kKeyHit), 0u);
  const HistogramData& h = snap->Get(Histogram::kBuildSeconds);
  EXPECT_EQ(h.Count(), 3u);
  EXPECT_EQ(h.buckets[0], 1u);
  EXPECT_EQ(h.buckets[2], 1u);  // bounds 0.05, 0.25, 1
  EXPECT_EQ(h.buckets.back(), 1u);
  EXPECT_EQ(h.sum_us, 7201010000u);
  EXPECT_EQ(snap->Get(Histogram::kPushSeconds).Count(), 0u);
}

// Many short-lived processes count into one file at once (forced shells and
// hooks do): no increment is lost.
TEST(CountersTest, ConcurrentProcessesLoseNoIncrement) {
  TempDir dir;
  constexpr int kProcesses = 8, kAdds = 5000;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < kAdds; ++i) Add(dir.path(), Counter::kSessionPush);
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Result<Snapshot> snap = ReadCounters(dir.path());
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->Get(Counter::kSessionPush), static_cast<uint64_t>(kProcesses * kAdds));
}

// A file of another layout (left by an older or newer release) reads as
// zeros, never as this release's counters, and is replaced on the next add.
TEST(CountersTest, AFileOfAnotherLayoutIsReplacedNotMisread) {
  TempDir dir;
  testing::WriteFile(DataDir(dir.path()).Counters(), std::string(40, '\x07'), 0640);
  Result<Snapshot> before = ReadCounters(dir.path());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->Get(Counter::kKeyHit), 0u);
  Add(dir.path(), Counter::kKeyHit, 2);
  Result<Snapshot> after = ReadCounters(dir.path());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->Get(Counter::kKeyHit), 2u);
  EXPECT_EQ(after->Get(Counter::kKeyMiss), 0u);
}

TEST(CountersTest, AnUnwritableDataDirLosesTheCountNotTheCaller) {
  Add("/nonexistent/pushgate", Counter::kKeyHit);
  Result<Snapshot> snap = ReadCounters("/nonexistent/pushgate");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->Get(Counter::kKeyHit), 0u);
}

}  // namespace
}  // namespace pushgate::metrics
