#include "receive-hook/remote_build.h"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <variant>

#include "backend/backend.h"
#include "util/fd.h"
#include "util/log.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;
using Outcome = RemoteBuildResult::Outcome;

// Why a wait was cut short; returned by Watch::Tick as an error so that
// libcurl aborts the transfer in progress.
class Watch {
 public:
  explicit Watch(const RemoteBuildRequest& request) : request_(request), deadline_(Clock::now() + request.timeout) {}

  // Checks everything that ends a wait and keeps the pusher's session alive.
  Status Tick() {
    if (request_.cancel != nullptr && request_.cancel->load()) return Stop(Outcome::kInterrupted);
    if (request_.relay->PusherGone()) return Stop(Outcome::kPusherGone);
    if (Clock::now() >= deadline_) return Stop(Outcome::kTimedOut);
    if (!request_.relay->KeepAliveIfSilent().ok()) return Stop(Outcome::kPusherGone);
    return Status::OK();
  }

  // Waits `d`, ticking; false if the wait was cut short.
  bool Sleep(Duration d) {
    auto until = Clock::now() + d;
    while (Clock::now() < until) {
      if (!Tick().ok()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(100)));
    }
    return Tick().ok();
  }

  std::optional<Outcome> stopped() const { return stopped_; }

 private:
  Status Stop(Outcome outcome) {
    stopped_ = outcome;
    return Status::Unavailable("wait ended");
  }

  const RemoteBuildRequest& request_;
  Clock::time_point deadline_;
  std::optional<Outcome> stopped_;
};

RemoteBuildResult Ended(Outcome outcome, std::string message = "") {
  RemoteBuildResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  return r;
}

// "120" -> "2m"; an HTTP date is shown as it is.
std::string RetryAfterText(const std::string& retry_after) {
  if (retry_after.empty()) return "later";
  if (retry_after.size() <= 9 && retry_after.find_first_not_of("0123456789") == std::string::npos) {
    return "in " + FormatDuration(std::chrono::seconds(std::stoll(retry_after)));
  }
  return "after " + retry_after;
}

std::string WithReason(std::string text, const std::string& reason) {
  return reason.empty() ? text : text + ": " + reason;
}

RemoteBuildResult Refusal(const BuildAdmission& admission, const std::string& app, bool distinguish_missing_apps) {
  switch (admission.kind) {
    case BuildAdmission::Kind::kForbidden:
    case BuildAdmission::Kind::kNoSuchApp: {
      // The controller's own words could tell a missing app from a foreign
      // one: they go to the log.
      log::Info("build refused by the controller", {{"reason", admission.message}});
      bool app_missing = admission.kind == BuildAdmission::Kind::kNoSuchApp;
      return Ended(Outcome::kRefused, distinguish_missing_apps
                                          ? WithReason(AccessRefusal(app, app_missing, true), admission.message)
                                          : AccessRefusal(app, app_missing, false));
    }
    case BuildAdmission::Kind::kBusy:
      return Ended(Outcome::kRefused, "Another build of " + app +
                                          " is running on the platform; wait for it to finish, then push again" +
                                          (admission.message.empty() ? "" : " (" + admission.message + ")"));
    case BuildAdmission::Kind::kQuota:
      return Ended(Outcome::kRefused, WithReason("The build quota for " + app + " is used up", admission.message) +
                                          "; try again " + RetryAfterText(admission.retry_after));
    default: return Ended(Outcome::kRefused, WithReason("The platform refused the build", admission.message));
  }
}

// Makes sure the controller has the source; kUnavailable etc. on failure.
std::optional<RemoteBuildResult> EnsureSource(const RemoteBuildRequest& request, Watch& watch) {
  ControllerClient& controller = *request.controller;
  const std::string& digest = request.spec.source;
  Result<bool> present = controller.HasSource(digest);
  if (!present.ok()) {
    if (present.status().code() == Status::Code::kUnimplemented) {
      log::Error("the controller has no build API", {{"error", present.status().message()}});
      return Ended(Outcome::kMisconfigured);
    }
    log::Warn("cannot check the source on the controller", {{"error", present.status().message()}});
    return Ended(Outcome::kUnavailable);
  }
  if (*present) {
    log::Info("source already on the controller", {{"source", digest}});
    return std::nullopt;
  }
  UniqueFd fd(::open(request.archive_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    log::Error("cannot open the source archive", {{"error", Status::FromErrno(errno, request.archive_path).message()}});
    return Ended(Outcome::kRefused, "the gateway could not read the source archive; tell the platform operator");
  }
  auto start = Clock::now();
  Status uploaded = controller.UploadSource(digest, fd.get(), {nullptr, [&watch] { return watch.Tick(); }});
  if (watch.stopped()) return Ended(*watch.stopped());
  if (uploaded.code() == Status::Code::kInvalidArgument) {
    log::Error("the controller refused the source", {{"error", uploaded.message()}});
    return Ended(Outcome::kRefused, uploaded.message() + "; tell the platform operator");
  }
  if (!uploaded.ok()) {
    log::Warn("cannot upload the source", {{"error", uploaded.message()}});
    return Ended(Outcome::kUnavailable);
  }
  log::Info(
      "source uploaded",
      {{"source", digest}, {"ms", std::to_string(std::chrono::duration_cast<Duration>(Clock::now() - start).count())}});
  return std::nullopt;
}

}  // namespace

namespace {

RemoteBuildResult ForBuild(RemoteBuildResult result, const std::string& id) {
  result.build_id = id;
  return result;
}

// The controller's word that a build is over, as the push's result.
RemoteBuildResult FinishedBuild(const BuildState& state, const std::string& id) {
  RemoteBuildResult r;
  r.build_id = id;
  r.message = state.message;
  r.release_version = state.release_version;
  r.outcome = state.phase == BuildState::Phase::kSucceeded ? Outcome::kSucceeded : Outcome::kFailed;
  if (state.phase == BuildState::Phase::kCancelled && r.message.empty()) r.message = "the platform cancelled the build";
  return r;
}

// POST /v2/hooks/builds: the build's id, or the result that ends the push.
std::variant<std::string, RemoteBuildResult> CreateRemoteBuild(const RemoteBuildRequest& request,
                                                              const BuildSpec& spec) {
  Result<BuildAdmission> admission = request.controller->CreateBuild(spec);
  if (!admission.ok() && admission.status().code() == Status::Code::kUnimplemented) {
    log::Error("the controller has no build API", {{"error", admission.status().message()}});
    return Ended(Outcome::kMisconfigured);
  }
  if (!admission.ok()) {
    log::Warn("cannot request the build", {{"error", admission.status().message()}});
    return Ended(Outcome::kUnavailable);
  }
  if (admission->kind != BuildAdmission::Kind::kCreated) {
    log::Info("build refused by the controller", {{"message", admission->message}});
    return Refusal(*admission, spec.app, request.distinguish_missing_apps);
  }
  log::Info("build created", {{"build", admission->id}});
  return admission->id;
}

// Relays the build's log until the controller says the build is over,
// resuming an interrupted stream from the last byte relayed, with backoff.
RemoteBuildResult FollowBuild(const RemoteBuildRequest& request, Watch& watch, const std::string& id) {
  uint64_t offset = 0;
  Duration backoff = request.retry_initial;
  StreamCallbacks callbacks;
  callbacks.on_data = [&](std::string_view bytes) -> Status {
    PG_RETURN_IF_ERROR(request.relay->Write(bytes));
    offset += bytes.size();
    backoff = request.retry_initial;
    return Status::OK();
  };
  callbacks.on_tick = [&watch] { return watch.Tick(); };
  std::optional<RemoteBuildResult> ended;  // the outcome, once the controller reports one
  for (;;) {
    Status streamed = request.controller->StreamBuildLog(id, offset, callbacks);
    if (!streamed.ok() && streamed.code() == Status::Code::kIOError) return ForBuild(Ended(Outcome::kPusherGone), id);
    if (watch.stopped()) return ForBuild(Ended(*watch.stopped()), id);
    if (streamed.code() == Status::Code::kNotFound) {
      log::Error("the controller lost the build", {{"build", id}});
      return ForBuild(Ended(Outcome::kFailed, "the platform lost track of build " + id), id);
    }
    if (streamed.ok()) {
      // A clean close: the build has ended, or a proxy cut the stream short.
      // Once the controller says the build is over, the log is read once
      // more from the offset, so a stream a proxy cut cleanly loses nothing.
      if (ended) return *ended;
      Result<BuildState> state = request.controller->GetBuild(id);
      if (state.ok() && state->finished()) {
        ended = FinishedBuild(*state, id);
        continue;
      }
      if (!state.ok()) log::Warn("cannot get the build state", {{"build", id}, {"error", state.status().message()}});
    } else if (ended) {
      // The outcome is known; a tail the controller cannot serve now is not
      // worth holding the push for.
      log::Warn("could not re-read the end of the build log", {{"build", id}, {"error", streamed.message()}});
      return *ended;
    } else {
      log::Warn("build log stream interrupted; resuming",
                {{"build", id}, {"offset", std::to_string(offset)}, {"error", streamed.message()}});
    }
    if (!watch.Sleep(backoff)) return ForBuild(Ended(*watch.stopped()), id);
    backoff = std::min(backoff * 2, request.retry_max);
  }
}

// Nobody waits for the build any more: it would only take the platform's
// resources (and, with a 409 on the next push, the app's build slot).
bool CancelOnPlatform(const RemoteBuildRequest& request, const std::string& id) {
  Status cancelled = request.controller->CancelBuild(id);
  if (cancelled.ok()) {
    log::Info("cancelled the build on the platform", {{"build", id}});
    return true;
  }
  if (cancelled.IsAlreadyExists()) {
    log::Info("the build had ended before it could be cancelled", {{"build", id}});
  } else if (cancelled.code() == Status::Code::kUnimplemented) {
    log::Warn("the controller cannot cancel builds; it goes on", {{"build", id}, {"error", cancelled.message()}});
  } else {
    log::Warn("cannot cancel the build; it goes on", {{"build", id}, {"error", cancelled.message()}});
  }
  return false;
}

}  // namespace

RemoteBuildResult RunRemoteBuild(const RemoteBuildRequest& request) {
  Watch watch(request);
  BuildSpec spec = request.spec;
  spec.source = "sha256:" + request.archive_sha256;
  RemoteBuildRequest with_source = request;
  with_source.spec = spec;
  if (std::optional<RemoteBuildResult> failed = EnsureSource(with_source, watch)) return *failed;
  std::variant<std::string, RemoteBuildResult> created = CreateRemoteBuild(request, spec);
  if (RemoteBuildResult* refused = std::get_if<RemoteBuildResult>(&created)) return *refused;
  RemoteBuildResult result = FollowBuild(request, watch, std::get<std::string>(created));
  if (result.outcome == Outcome::kTimedOut || result.outcome == Outcome::kInterrupted ||
      result.outcome == Outcome::kPusherGone) {
    result.cancelled_on_platform = CancelOnPlatform(request, result.build_id);
  }
  return result;
}

}  // namespace pushgate
