// Builds through the platform controller (controller mode): uploads the
// source archive unless the controller already has it (content-addressed by
// its sha256), asks for a build, and relays the build log to the pusher as it
// arrives until the build ends.
//
// The log stream is resumable: when it drops, the hook reconnects with the
// byte offset it has relayed, with backoff, so no byte is repeated or lost.
// When the pusher goes away (Ctrl-C on git push), the hook is signalled or
// build.timeout passes, the build is cancelled on the platform
// (POST /v2/hooks/builds/{id}/cancel); a controller without that route
// leaves it running.
#ifndef PUSHGATE_RECEIVE_HOOK_REMOTE_BUILD_H_
#define PUSHGATE_RECEIVE_HOOK_REMOTE_BUILD_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "controller/client.h"
#include "receive-hook/log_relay.h"
#include "util/duration.h"

namespace pushgate {

struct RemoteBuildRequest {
  ControllerClient* controller = nullptr;
  BuildSpec spec;  // `source` is filled in from archive_sha256
  std::string archive_path;
  std::string archive_sha256;                   // 64 hex digits
  Duration timeout = std::chrono::minutes(30);  // bounds the whole wait
  LogRelay* relay = nullptr;
  const std::atomic<bool>* cancel = nullptr;  // the hook was signalled
  bool distinguish_missing_apps = false;       // push.distinguish_missing_apps
  // Reconnection backoff of the log stream (and status checks).
  Duration retry_initial = std::chrono::milliseconds(250);
  Duration retry_max = std::chrono::seconds(5);
};

struct RemoteBuildResult {
  enum class Outcome {
    kSucceeded,
    kFailed,       // the build failed or the platform cancelled it
    kRefused,      // no build was started: 403, 404, 409, 429, a refused source
    kUnavailable,  // the controller could not be reached before the build started
    kMisconfigured,  // the controller has no build API (a stock controller: build.driver = "workflow")
    kTimedOut,     // `timeout` passed; the build may still finish on the platform
    kInterrupted,  // `cancel` was set
    kPusherGone,   // the pusher disconnected; the build goes on without them
  } outcome = Outcome::kFailed;
  std::string message;                     // for the pusher (kFailed, kRefused), printable
  std::optional<int64_t> release_version;  // kSucceeded
  std::string build_id;                    // once created
  bool cancelled_on_platform = false;      // kTimedOut, kInterrupted, kPusherGone: the controller took the cancel
};

RemoteBuildResult RunRemoteBuild(const RemoteBuildRequest& request);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_REMOTE_BUILD_H_
