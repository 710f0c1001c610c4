// The loop of a long-running sidecar (pushgate-sync --daemon, pushgate-reaper
// --interval): one step at a time until SIGTERM or SIGINT, sleeping the
// interval (jittered, so replicas do not act together) after a good step and
// backing off exponentially after a failed one, never busy-looping.
#ifndef PUSHGATE_UTIL_SERVICE_LOOP_H_
#define PUSHGATE_UTIL_SERVICE_LOOP_H_

#include <atomic>
#include <functional>

#include "util/duration.h"

namespace pushgate {

struct LoopOptions {
  Duration interval;                                  // between good steps
  double jitter = 0.2;                                // +- this fraction of `interval`
  Duration first_backoff = std::chrono::seconds(1);   // after the first failed step, doubling
  Duration max_backoff;                               // at most this (default: `interval`)
};

// Makes SIGTERM and SIGINT set the flag StopRequested() returns.
void InstallStopHandlers();
const std::atomic<bool>& StopRequested();

// Runs `step` (true: it went well) until a stop is requested; the current
// step always finishes.
void RunServiceLoop(const LoopOptions& options, const std::function<bool()>& step);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_SERVICE_LOOP_H_
