#include "util/service_loop.h"

#include <signal.h>

#include <algorithm>
#include <random>
#include <thread>

namespace pushgate {
namespace {

std::atomic<bool> g_stop{false};

void OnStop(int) { g_stop.store(true); }

// Sleeps in short steps so a stop is noticed promptly.
void SleepUnlessStopped(Duration d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
}

const std::atomic<bool>& StopRequested() { return g_stop; }

void RunServiceLoop(const LoopOptions& options, const std::function<bool()>& step) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1 - options.jitter, 1 + options.jitter);
  Duration max_backoff = options.max_backoff.count() > 0 ? options.max_backoff : options.interval;
  Duration backoff = options.first_backoff;
  while (!g_stop.load()) {
    Duration next;
    if (step()) {
      backoff = options.first_backoff;
      next = Duration(static_cast<int64_t>(static_cast<double>(options.interval.count()) * jitter(rng)));
    } else {
      next = backoff;
      backoff = std::min(backoff * 2, std::max(max_backoff, options.first_backoff));
    }
    SleepUnlessStopped(next);
  }
}

}  // namespace pushgate
