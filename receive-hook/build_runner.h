// Runs a build command and relays its output to the pusher as it is written.
//
// The command runs in its own process group with stdin from /dev/null and
// stdout and stderr on one pipe, so its log reaches the pusher in the order it
// was written. The whole group is stopped (SIGTERM, then SIGKILL after a grace
// period) on timeout, on cancellation, when the pusher has gone away, and for
// any process the command leaves behind.
#ifndef PUSHGATE_RECEIVE_HOOK_BUILD_RUNNER_H_
#define PUSHGATE_RECEIVE_HOOK_BUILD_RUNNER_H_

#include <atomic>

#include "receive-hook/log_relay.h"
#include "util/duration.h"
#include "util/process.h"
#include "util/status.h"

namespace pushgate {

struct BuildRequest {
  SpawnSpec command;   // path, argv, env; stdio is set by RunBuild
  Duration timeout;
  // Where the build's output goes. When the pusher's session closes or a
  // write to it fails, the pusher is gone and the build is stopped.
  LogRelay* relay = nullptr;
  Duration kill_grace = std::chrono::seconds(5);
  // Set asynchronously (a signal handler) to stop the build.
  const std::atomic<bool>* cancel = nullptr;
};

struct BuildResult {
  enum class Outcome {
    kSucceeded,
    kFailed,      // non-zero exit or killed by a signal
    kTimedOut,
    kCancelled,
    kOutputLost,  // the pusher disconnected
  } outcome = Outcome::kFailed;
  ExitStatus exit;
};

Result<BuildResult> RunBuild(const BuildRequest& request);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_BUILD_RUNNER_H_
