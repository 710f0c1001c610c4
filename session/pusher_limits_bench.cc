// What the per-pusher limits add to every session: counting a request (open,
// flock, read, write one small file) and taking a push slot (open, flock),
// against the one write every session already made before them, the shared
// counter's increment.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "data-dir/data_dir.h"
#include "metrics/counters.h"
#include "session/pusher_limits.h"
#include "util/fs.h"

namespace pushgate {
namespace {

std::string FreshDir() {
  char tmpl[] = "/tmp/pushgate-bench-XXXXXX";
  return ::mkdtemp(tmpl);
}

void BM_SessionCounter(benchmark::State& state) {
  std::string dir = FreshDir();
  for (auto _ : state) metrics::Add(dir, metrics::Counter::kSessionPush);
  (void)RemoveTree(dir);
}

void BM_CountRequest(benchmark::State& state) {
  std::string dir = FreshDir();
  DataDir dirs(dir);
  int64_t now_ms = 1700000000000;
  // A rate no run reaches, so every call counts and none is refused.
  for (auto _ : state) benchmark::DoNotOptimize(CountRequest(dirs, "alice", "alice", 1000000, now_ms += 1000));
  (void)RemoveTree(dir);
}

void BM_TakePushSlot(benchmark::State& state) {
  std::string dir = FreshDir();
  DataDir dirs(dir);
  for (auto _ : state) benchmark::DoNotOptimize(TakePushSlot(dirs, "alice", "alice", 8));
  (void)RemoveTree(dir);
}

BENCHMARK(BM_SessionCounter);
BENCHMARK(BM_CountRequest);
BENCHMARK(BM_TakePushSlot);

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
