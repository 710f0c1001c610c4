#include "receive-hook/hook.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <optional>

#include "controller/client.h"
#include "controller/json.h"
#include "deploy/release.h"
#include "deploy/tree_export.h"
#include "metrics/counters.h"
#include "receive-hook/build_runner.h"
#include "receive-hook/log_relay.h"
#include "receive-hook/procfile.h"
#include "receive-hook/push_options.h"
#include "receive-hook/remote_build.h"
#include "source-archive/source_archive.h"
#include "receive-hook/tree_policy.h"
#include "releases/releases.h"
#include "util/byte_size.h"
#include "util/enum_table.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/random_id.h"

namespace pushgate {
namespace {

bool IsHexId(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string AcceptedRefs(const Config& config) {
  std::string out;
  for (const std::string& ref : config.deploy_refs) {
    if (!out.empty()) out += " or ";
    out += ref;
  }
  return out;
}

std::string BranchName(std::string_view ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (ref.substr(0, kHeads.size()) == kHeads) ref.remove_prefix(kHeads.size());
  return std::string(ref);
}

// Removes the archive however the build ends.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

std::string DescribeFailure(const Status& s) {
  if (s.code() == Status::Code::kResourceExhausted) {
    return "the gateway ran out of disk space";
  }
  return "the gateway could not prepare the release (" + std::string(CodeName(s.code())) + ")";
}

// How long the pusher is given to read pushgate's last lines once the hook
// is done; a client that stopped reading does not hold the push open.
constexpr Duration kFinalDrain = std::chrono::seconds(10);

// Room the release needs on data_dir beyond its files: tar headers, file
// system blocks, and a margin so a deploy never takes the last megabyte.
constexpr uint64_t kPerEntryOverhead = 4096;
constexpr uint64_t kDiskMargin = uint64_t{1} << 20;

// What became of a deploy, and the pushgate_pushes_total counter of each.
enum class DeployOutcome { kDeployed, kBuildFailed, kRejected, kError };
struct DeployOutcomeCounter {
  DeployOutcome outcome;
  metrics::Counter counter;
};
constexpr DeployOutcomeCounter kPushCounters[] = {
    {DeployOutcome::kDeployed, metrics::Counter::kPushDeployed},
    {DeployOutcome::kBuildFailed, metrics::Counter::kPushBuildFailed},
    {DeployOutcome::kRejected, metrics::Counter::kPushRejected},
    {DeployOutcome::kError, metrics::Counter::kPushError},
};
static_assert(ListedInEnumOrder(kPushCounters, &DeployOutcomeCounter::outcome),
              "kPushCounters lists every DeployOutcome in order");

// How a build can end, with what each ending means to the pusher, the log
// and the metrics: one row each, in kBuildEndings below.
enum class BuildEnding {
  kSucceeded,         // the build command, or the platform's build, succeeded
  kFailed,            // ... failed: {detail} is its exit status or the platform's message
  kTimedOut,          // build.timeout ran out; the build was stopped
  kCancelled,         // the hook was signalled; the build was stopped
  kPusherGone,        // the pusher disconnected; the build was stopped (locally) or goes on (platform)
  kRefused,           // the platform refused to start the build: {detail} says why
  kUnavailable,       // the platform could not be reached
  kMisconfigured,     // the platform lacks the build API
  kGaveUpWaiting,     // build.timeout ran out while the platform builds: {detail} says if it was cancelled
  kInterrupted,       // the hook was signalled while the platform builds: {detail} likewise
};

struct BuildEndingRow {
  BuildEnding ending;
  log::Level level;
  const char* log_message;
  // For the pusher, with {timeout} (build.timeout) and {detail}; "" says
  // nothing: the pusher is gone.
  const char* pusher;
  DeployOutcome outcome;  // the push's, unless the build went on to a release step
  bool build_decided;     // the build step reported its own result (else: an error)
};

constexpr BuildEndingRow kBuildEndings[] = {
    {BuildEnding::kSucceeded, log::Level::kInfo, "build succeeded", "", DeployOutcome::kDeployed, true},
    {BuildEnding::kFailed, log::Level::kInfo, "build failed", "Build failed{detail}", DeployOutcome::kBuildFailed,
     true},
    {BuildEnding::kTimedOut, log::Level::kWarn, "build timed out", "Build timed out after {timeout}.",
     DeployOutcome::kError, false},
    {BuildEnding::kCancelled, log::Level::kWarn, "build cancelled", "Build cancelled: the push was interrupted.",
     DeployOutcome::kError, false},
    {BuildEnding::kPusherGone, log::Level::kWarn, "pusher disconnected; build stopped or left to the platform", "",
     DeployOutcome::kError, false},
    {BuildEnding::kRefused, log::Level::kInfo, "build refused by the platform", "{detail}.", DeployOutcome::kError,
     false},
    {BuildEnding::kUnavailable, log::Level::kWarn, "platform unavailable for the build",
     "the platform controller is unavailable, try again shortly.", DeployOutcome::kError, false},
    {BuildEnding::kMisconfigured, log::Level::kError, "the platform has no build API",
     "pushgate is misconfigured on the server; tell the platform operator.", DeployOutcome::kError, false},
    {BuildEnding::kGaveUpWaiting, log::Level::kWarn, "gave up waiting for the build",
     "Gave up waiting for the build after {timeout}{detail}.", DeployOutcome::kError, false},
    {BuildEnding::kInterrupted, log::Level::kWarn, "hook interrupted while the build runs on the platform",
     "The push was interrupted{detail}.", DeployOutcome::kError, false},
};
static_assert(ListedInEnumOrder(kBuildEndings, &BuildEndingRow::ending),
              "kBuildEndings lists every BuildEnding in order");

BuildEnding EndingOf(BuildResult::Outcome outcome) {
  switch (outcome) {
    case BuildResult::Outcome::kSucceeded: return BuildEnding::kSucceeded;
    case BuildResult::Outcome::kFailed: return BuildEnding::kFailed;
    case BuildResult::Outcome::kTimedOut: return BuildEnding::kTimedOut;
    case BuildResult::Outcome::kCancelled: return BuildEnding::kCancelled;
    case BuildResult::Outcome::kOutputLost: return BuildEnding::kPusherGone;
  }
  return BuildEnding::kFailed;
}

BuildEnding EndingOf(RemoteBuildResult::Outcome outcome) {
  switch (outcome) {
    case RemoteBuildResult::Outcome::kSucceeded: return BuildEnding::kSucceeded;
    case RemoteBuildResult::Outcome::kFailed: return BuildEnding::kFailed;
    case RemoteBuildResult::Outcome::kRefused: return BuildEnding::kRefused;
    case RemoteBuildResult::Outcome::kUnavailable: return BuildEnding::kUnavailable;
    case RemoteBuildResult::Outcome::kMisconfigured: return BuildEnding::kMisconfigured;
    case RemoteBuildResult::Outcome::kTimedOut: return BuildEnding::kGaveUpWaiting;
    case RemoteBuildResult::Outcome::kInterrupted: return BuildEnding::kInterrupted;
    case RemoteBuildResult::Outcome::kPusherGone: return BuildEnding::kPusherGone;
  }
  return BuildEnding::kFailed;
}

// Replaces each `{name}` in `text` with its value.
std::string Fill(std::string text, std::initializer_list<std::pair<std::string_view, std::string>> values) {
  for (const auto& [name, value] : values) {
    std::string placeholder = "{" + std::string(name) + "}";
    for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

// One deploy in progress: what the pusher sees goes through `relay`.
class Deployment {
 public:
  Deployment(const HookContext& context, const RefUpdate& update, LogRelay& relay)
      : context_(context), config_(*context.config), update_(update), relay_(relay) {}

  using Outcome = DeployOutcome;

  // Counts the push's outcome and, if a build ran, its result and duration.
  void RecordMetrics() const {
    const std::string& data_dir = config_.data_dir;
    metrics::Add(data_dir, kPushCounters[static_cast<size_t>(outcome_)].counter);
    if (!build_started_) return;
    metrics::Add(data_dir, build_counter_.value_or(metrics::Counter::kBuildError));
    metrics::Observe(data_dir, metrics::Histogram::kBuildSeconds,
                     std::chrono::duration<double>(Clock::now() - *build_started_).count());
  }

  // Returns true if the build succeeded.
  bool Run(const GitRepo& repo) {
    (void)relay_.Say("-----> Building " + context_.app + " (" + update_.new_id.substr(0, 7) + ") as " +
                     context_.user);
    log::Info("build starting", {{"sha", update_.new_id}, {"ref", update_.ref}});
    deadline_ = Clock::now() + config_.build.timeout;
    bool workflow = config_.build.driver == BuildDriver::kWorkflow;
    if (workflow && !FetchWorkflowConfig()) return false;
    if (!CheckTree(repo) || !CheckDiskSpace()) return false;
    if (DeploysHere()) return DeployHere(repo);
    if (!WriteArchive(repo)) return false;
    switch (config_.build.driver) {
      case BuildDriver::kLocal: return BuildLocally();
      case BuildDriver::kPushgate: return BuildOnController();
      case BuildDriver::kWorkflow: return BuildForWorkflow(repo);
    }
    return false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Stop { kNone, kTimedOut, kCancelled, kPusherGone };

  // The build step's clock: started when a build command or a platform
  // build begins; its result is recorded by RecordMetrics, with a build
  // that never reported one counted as an error (timed out, interrupted,
  // refused, platform unavailable, pusher gone).
  void StartBuildClock() { build_started_ = Clock::now(); }
  // Tells the pusher, the log and the metrics how the build ended (or, for
  // a stop before it started, would have), by its row of kBuildEndings;
  // `detail` fills the row's {detail} and the log line's. True if it
  // succeeded.
  bool EndBuild(BuildEnding ending, const std::string& detail, const std::string& build_id = "") {
    const BuildEndingRow& row = kBuildEndings[static_cast<size_t>(ending)];
    std::string ms = build_started_ ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         Clock::now() - *build_started_)
                                                         .count())
                                    : "";
    if (build_started_ && row.build_decided) {
      build_counter_ = ending == BuildEnding::kSucceeded ? metrics::Counter::kBuildSucceeded
                                                         : metrics::Counter::kBuildFailed;
    }
    log::Write(row.level, row.log_message,
               {{"sha", update_.new_id}, {"build", build_id}, {"detail", detail}, {"ms", ms}});
    if (ending == BuildEnding::kSucceeded) return true;
    outcome_ = row.outcome;
    if (*row.pusher == '\0') return false;
    return Reject(Fill(row.pusher, {{"timeout", FormatDuration(config_.build.timeout)}, {"detail", detail}}));
  }

  bool Reject(const std::string& why) {
    (void)relay_.Say(" !     " + why);
    (void)relay_.Say(" !     The push was rejected; " + context_.app + " is unchanged.");
    return false;
  }

  // The controller says the app is missing or not the pusher's. Workflow
  // answers 404 "No User matches" for a user it does not know: that is a
  // refusal of access, not a missing app.
  bool RefuseAccess(const HookAnswer& answer) {
    outcome_ = Outcome::kRejected;
    log::Info("refused by the controller", {{"reason", answer.message}});
    bool app_missing = answer.kind == HookAnswer::Kind::kNoSuchApp && answer.message.find("User") == std::string::npos;
    return Reject(AccessRefusal(context_.app, app_missing, config_.push.distinguish_missing_apps) + ".");
  }

  // A stock hook's "no": access (403, or 404 for the app or the user), or a
  // refusal of `what` with the controller's reason.
  bool RefusedByPlatform(const HookAnswer& answer, std::string_view what) {
    if (answer.kind == HookAnswer::Kind::kForbidden || answer.kind == HookAnswer::Kind::kNoSuchApp) {
      return RefuseAccess(answer);
    }
    outcome_ = Outcome::kRejected;
    return Reject("The platform refused the " + std::string(what) +
                  (answer.message.empty() ? "" : ": " + answer.message) + ".");
  }

  // Runs between the pieces of work before the build: the build's clock,
  // the hook's signals and the pusher all hold there too.
  Status Checkpoint() {
    if (context_.cancel != nullptr && context_.cancel->load()) {
      stop_ = Stop::kCancelled;
    } else if (Clock::now() >= deadline_) {
      stop_ = Stop::kTimedOut;
    } else if (relay_.PusherGone() || !relay_.KeepAliveIfSilent().ok()) {
      stop_ = Stop::kPusherGone;
    }
    return stop_ == Stop::kNone ? Status::OK() : Status::Unavailable("the deploy was stopped");
  }

  // How the build ends when a checkpoint stopped it, if one did.
  std::optional<BuildEnding> StopEnding() const {
    switch (stop_) {
      case Stop::kTimedOut: return BuildEnding::kTimedOut;
      case Stop::kCancelled: return BuildEnding::kCancelled;
      case Stop::kPusherGone: return BuildEnding::kPusherGone;
      case Stop::kNone: break;
    }
    return std::nullopt;
  }

  // The pusher's view of a step that failed; a stop reads like the build's own.
  bool Failed(std::string_view step, const Status& s) {
    if (std::optional<BuildEnding> stopped = StopEnding()) {
      return EndBuild(*stopped, "before the build, at: " + std::string(step));
    }
    if (s.code() == Status::Code::kInvalidArgument) {
      log::Info("refused the pushed tree", {{"step", std::string(step)}, {"reason", s.message()}});
      outcome_ = Outcome::kRejected;
      return Reject("the pushed commit cannot be deployed: " + s.message() + ".");
    }
    log::Error("cannot " + std::string(step), {{"error", s.message()}});
    return Reject(DescribeFailure(s) + "; tell the platform operator.");
  }

  // The [push] limits and the symlink rule, from tree objects and blob
  // headers only: nothing is unpacked for a tree that will be refused.
  bool CheckTree(const GitRepo& repo) {
    Result<TreeSummary> summary =
        pushgate::CheckTree(repo, update_.new_id, TreeLimits::FromConfig(config_), [this] { return Checkpoint(); });
    if (!summary.ok()) return Failed("check the pushed tree", summary.status());
    tree_ = *summary;
    return true;
  }

  // The bundled deploy: no build command is configured, so this hook
  // writes the release itself, straight from the repository.
  bool DeploysHere() const { return config_.build.driver == BuildDriver::kLocal && config_.build.command.empty(); }

  // The files take about their size once: as the release the bundled
  // deploy writes, or as the archive in data_dir/tmp a build reads.
  bool CheckDiskSpace() {
    uint64_t needed = tree_.file_bytes + tree_.entries * kPerEntryOverhead + kDiskMargin;
    const std::string target = DeploysHere() ? config_.dirs().Releases() : config_.dirs().Tmp();
    Status dir = MakeDirs(target, DeploysHere() ? 0755 : 0750);
    if (!dir.ok()) return Failed(DeploysHere() ? "create the releases dir" : "create the tmp dir", dir);
    Result<uint64_t> free_bytes = FreeBytes(target);
    if (!free_bytes.ok()) return Failed("check the free disk space", free_bytes.status());
    if (*free_bytes >= needed) return true;
    log::Error("not enough disk space for the release",
               {{"needed", std::to_string(needed)}, {"free", std::to_string(*free_bytes)}});
    return Reject("the gateway does not have enough disk space for this release (it needs about " +
                  FormatByteSize(needed) + ", " + FormatByteSize(*free_bytes) +
                  " are free); tell the platform operator.");
  }

  // The exact pushed tree, as a deterministic tar.gz in data_dir/tmp.
  bool WriteArchive(const GitRepo& repo) {
    archive_.path = config_.dirs().Tmp() + "/" + context_.app + "-" + update_.new_id.substr(0, 7) + "-" + RandomHex(4) +
                    ".tar.gz";
    UniqueFd fd(::open(archive_.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) {
      Status s = Status::FromErrno(errno, "create " + archive_.path);
      archive_.path.clear();
      return Failed("create the source archive", s);
    }
    FdArchiveOutput out(fd.get());
    // Not fsynced: the archive lives for this hook only (uploaded or handed
    // to the build, then deleted), and is read back through the page cache.
    // Forcing 128 MB to disk took 100 ms, and an archive deleted before
    // writeback may never reach the disk at all.
    Result<ArchiveInfo> info = WriteSourceArchive(repo, update_.new_id, config_.build.source_compression, out,
                                                  [this] { return Checkpoint(); });
    if (!info.ok()) return Failed("archive the source", info.status());
    info_ = std::move(info).value();
    return true;
  }

  // What is left of build.timeout once the source is ready.
  Duration TimeLeft() const {
    auto left = std::chrono::duration_cast<Duration>(deadline_ - Clock::now());
    return std::max(left, Duration(1));
  }

  // Runs build.command (or the bundled pushgate-deploy) with the push's
  // environment plus `extra_env`; true if it succeeded. Every other outcome
  // is told to the pusher here.
  bool RunBuildCommand(const std::vector<std::string>& extra_env) {
    BuildRequest build;
    build.timeout = TimeLeft();
    build.relay = &relay_;
    build.cancel = context_.cancel;
    if (config_.build.command.empty()) {
      build.command.path = context_.libexec_dir + "/pushgate-deploy";
      build.command.argv = {build.command.path};
    } else {
      build.command.path = config_.build.command.front();
      build.command.argv = config_.build.command;
    }
    build.command.cwd = config_.data_dir;
    build.command.env = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=" + config_.data_dir,
        "LANG=C.UTF-8",
        "PUSHGATE_CONFIG=" + config_.path,
        "PUSHGATE_APP=" + context_.app,
        "PUSHGATE_USER=" + context_.user,
        "PUSHGATE_SHA=" + update_.new_id,
        "PUSHGATE_REF=" + update_.ref,
        "PUSHGATE_SOURCE=" + archive_.path,
        "PUSHGATE_SOURCE_SHA256=" + info_.sha256,
        "PUSHGATE_REQUEST_ID=" + context_.request_id,
    };
    build.command.env.insert(build.command.env.end(), extra_env.begin(), extra_env.end());
    if (!context_.push_options.empty()) {
      push_options_.path = config_.dirs().Tmp() + "/" + context_.app + "-options-" + RandomHex(4) + ".json";
      UniqueFd fd(::open(push_options_.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      Status written = fd.valid() ? WriteAll(fd.get(), JsonStringArray(context_.push_options) + "\n")
                                  : Status::FromErrno(errno, "create " + push_options_.path);
      if (!written.ok()) return Failed("write the push options", written);
      build.command.env.push_back("PUSHGATE_PUSH_OPTIONS=" + push_options_.path);
    }
    Result<BuildResult> result = RunBuild(build);
    if (!result.ok()) {
      log::Error("cannot run the build command", {{"error", result.status().message()}});
      return Reject("the build command could not be started (" + result.status().message() +
                    "); tell the platform operator.");
    }
    BuildEnding ending = EndingOf(result->outcome);
    return EndBuild(ending, ending == BuildEnding::kFailed ? " (" + result->exit.Describe() + ")." : "");
  }

  // The bundled deploy, in this process: the release is written from the
  // repository, so no archive is compressed, written, hashed, read back and
  // unpacked, and no program starts. It counts as the build, and
  // build.timeout, the hook's signals and a departed pusher stop it between
  // files and pieces of a file like any build.
  bool DeployHere(const GitRepo& repo) {
    StartBuildClock();
    DeployRequest request;
    request.releases_dir = config_.dirs().Releases();
    request.app = context_.app;
    request.commit = update_.new_id;
    // Only the tree's own refusals are the pusher's to fix.
    bool tree_refused = false;
    request.write_tree = [&](const std::string& dir, const std::function<Status()>& checkpoint) {
      Status written = ExportTree(repo, update_.new_id, dir, checkpoint);
      tree_refused = written.code() == Status::Code::kInvalidArgument;
      return written;
    };
    request.pusher = context_.user;
    request.request_id = context_.request_id;
    request.created_at = static_cast<int64_t>(::time(nullptr));
    request.checkpoint = [this] { return Checkpoint(); };
    Result<DeployResult> result = DeployRelease(request);
    if (!result.ok()) {
      if (std::optional<BuildEnding> stopped = StopEnding()) return EndBuild(*stopped, "while deploying");
      if (tree_refused) return Failed("write the release", result.status());
      log::Error("cannot deploy the release", {{"error", result.status().message()}});
      return Reject(DescribeFailure(result.status()) + "; tell the platform operator.");
    }
    if (!result->warning.empty()) {
      log::Warn("cannot retire an old release", {{"error", result->warning}});
      (void)relay_.Say("-----> warning: " + result->warning + " (the next deploy tries again)");
    }
    // Not the pusher's concern: the old trees are out of sight already.
    Status retiring = StartRemovingRetiredReleases(request);
    if (!retiring.ok()) log::Warn("cannot delete the retired releases", {{"error", retiring.message()}});
    (void)relay_.Say("-----> " + context_.app + " deployed: v" + std::to_string(result->version) + " (" +
                     update_.new_id.substr(0, 7) + ")");
    if (!EndBuild(BuildEnding::kSucceeded, "")) return false;
    outcome_ = Outcome::kDeployed;
    return true;
  }

  bool BuildLocally() {
    StartBuildClock();
    if (!RunBuildCommand({})) return false;
    outcome_ = Outcome::kDeployed;
    return true;
  }

  Result<std::unique_ptr<ControllerClient>> Controller() {
    Result<std::unique_ptr<ControllerClient>> controller = ControllerClient::Create(config_.controller);
    if (!controller.ok()) return controller;
    (*controller)->set_request_id(context_.request_id);
    return controller;
  }

  bool Misconfigured(std::string_view what, const Status& s) {
    log::Error(what, {{"error", s.message()}});
    return Reject("pushgate is misconfigured on the server; tell the platform operator.");
  }

  // The stock builder's first step, fresh for every push: the app's config,
  // which is also its write check (the access may have been revoked since
  // the session opened). The config goes to the build in a file; its names
  // and values are the app owner's, so no environment variable is made of them.
  bool FetchWorkflowConfig() {
    Result<std::unique_ptr<ControllerClient>> controller = Controller();
    if (!controller.ok()) return Misconfigured("cannot set up the controller client", controller.status());
    controller_ = std::move(controller).value();
    Result<HookAnswer> answer = controller_->FetchAppConfig(context_.app, context_.user);
    if (!answer.ok()) {
      if (answer.status().code() == Status::Code::kUnimplemented) {
        return Misconfigured("the controller has no config hook", answer.status());
      }
      log::Warn("cannot fetch the app's config", {{"error", answer.status().message()}});
      return Reject("the platform controller is unavailable, try again shortly.");
    }
    if (answer->kind != HookAnswer::Kind::kOk) return RefusedByPlatform(*answer, "push");
    Status dir = MakeDirs(config_.dirs().Tmp(), 0750);
    if (!dir.ok()) return Failed("create the tmp dir", dir);
    app_config_.path = config_.dirs().Tmp() + "/" + context_.app + "-config-" + RandomHex(4) + ".json";
    UniqueFd fd(::open(app_config_.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    Status written = fd.valid() ? WriteAll(fd.get(), answer->body) : Status::FromErrno(errno, "create " + app_config_.path);
    if (!written.ok()) return Failed("write the app's config", written);
    build_result_.path = config_.dirs().Tmp() + "/" + context_.app + "-result-" + RandomHex(4) + ".json";
    return true;
  }

  // The rest of the stock builder: the build command makes and pushes an
  // image and says which; the Procfile and the Dockerfile are read from the
  // exact pushed commit; POST /v2/hooks/build makes the release, and the
  // controller deploys it inside that request.
  bool BuildForWorkflow(const GitRepo& repo) {
    StartBuildClock();
    if (!RunBuildCommand({"PUSHGATE_APP_CONFIG=" + app_config_.path, "PUSHGATE_BUILD_RESULT=" + build_result_.path})) {
      return false;
    }
    Result<std::string> result = ReadSmallFile(build_result_.path, 64 * 1024);
    Result<std::string> image = result.ok() ? DecodeBuildResult(*result) : Result<std::string>(result.status());
    if (!image.ok()) {
      log::Error("the build wrote no usable result", {{"error", image.status().message()}});
      return Reject("the build finished but named no image (the build command must write {\"image\": \"REF\"} to "
                    "$PUSHGATE_BUILD_RESULT); tell the platform operator.");
    }
    WorkflowBuild build{context_.app, context_.user, update_.new_id.substr(0, 8), *image, {}, false};
    Result<std::string> procfile = repo.ReadFileAt(update_.new_id, "Procfile", kMaxProcfileBytes);
    if (procfile.ok()) {
      Result<std::map<std::string, std::string>> processes = ParseProcfile(*procfile);
      if (!processes.ok()) {
        outcome_ = Outcome::kRejected;
        return Reject("the pushed commit cannot be deployed: " + processes.status().message() + ".");
      }
      build.procfile = std::move(processes).value();
    } else if (!procfile.status().IsNotFound()) {
      outcome_ = Outcome::kRejected;
      return Reject("the pushed commit cannot be deployed: " + procfile.status().message() + ".");
    }
    Result<bool> dockerfile = repo.HasRegularFile(update_.new_id, "Dockerfile");
    if (!dockerfile.ok()) return Failed("read the pushed commit", dockerfile.status());
    build.dockerfile = *dockerfile;
    return PublishWorkflowRelease(build);
  }

  bool PublishWorkflowRelease(const WorkflowBuild& build) {
    (void)relay_.Say("-----> Releasing " + build.image);
    Result<HookAnswer> answer = controller_->PublishBuild(build, TimeLeft(), [this] { return Checkpoint(); });
    if (!answer.ok()) {
      if (stop_ != Stop::kNone) return Failed("release the build", answer.status());
      if (answer.status().code() == Status::Code::kUnimplemented) {
        return Misconfigured("the controller has no build hook", answer.status());
      }
      log::Warn("cannot release the build", {{"error", answer.status().message()}});
      return Reject("the platform could not release the build (" + answer.status().message() +
                    "); try again shortly.");
    }
    if (answer->kind != HookAnswer::Kind::kOk) return RefusedByPlatform(*answer, "release");
    Result<int64_t> version = DecodeReleaseVersion(answer->body);
    if (!version.ok()) {
      // The controller did release; only its answer is unreadable.
      log::Warn("cannot read the release version", {{"error", version.status().message()}});
      (void)relay_.Say("-----> " + context_.app + " released");
    } else {
      (void)relay_.Say("-----> " + context_.app + " released as v" + std::to_string(*version));
    }
    log::Info("released", {{"sha", update_.new_id}, {"image", build.image}});
    outcome_ = Outcome::kDeployed;
    return true;
  }

  bool BuildOnController() {
    Result<std::unique_ptr<ControllerClient>> controller = Controller();
    if (!controller.ok()) return Misconfigured("cannot set up the controller client", controller.status());
    RemoteBuildRequest build;
    build.controller = controller->get();
    build.spec = BuildSpec{context_.app,         context_.user, update_.new_id, update_.ref, "", context_.request_id,
                           context_.push_options};
    build.archive_path = archive_.path;
    build.archive_sha256 = info_.sha256;
    build.timeout = TimeLeft();
    build.relay = &relay_;
    build.cancel = context_.cancel;
    build.distinguish_missing_apps = config_.push.distinguish_missing_apps;
    StartBuildClock();
    RemoteBuildResult result = RunRemoteBuild(build);
    BuildEnding ending = EndingOf(result.outcome);
    std::string detail = ending == BuildEnding::kFailed ? (result.message.empty() ? "." : ": " + result.message)
                                                        : result.message;
    if (ending == BuildEnding::kGaveUpWaiting || ending == BuildEnding::kInterrupted) {
      detail = result.cancelled_on_platform ? "; the build was cancelled on the platform"
                                            : "; the build may still finish on the platform";
    }
    if (!EndBuild(ending, detail, result.build_id)) return false;
    outcome_ = Outcome::kDeployed;
    std::string released =
        result.release_version ? " released as v" + std::to_string(*result.release_version) : " built";
    (void)relay_.Say("-----> " + context_.app + released);
    return true;
  }

  const HookContext& context_;
  const Config& config_;
  const RefUpdate& update_;
  LogRelay& relay_;
  Outcome outcome_ = Outcome::kError;
  std::optional<Clock::time_point> build_started_;
  std::optional<metrics::Counter> build_counter_;  // the build step's own result, once it has one
  Clock::time_point deadline_;
  Stop stop_ = Stop::kNone;
  TreeSummary tree_;
  TempFile archive_;
  ArchiveInfo info_;
  // The workflow driver's.
  std::unique_ptr<ControllerClient> controller_;
  TempFile app_config_;
  TempFile push_options_;
  TempFile build_result_;
};

// A deploy ref may only ever name a commit: git refuses anything else
// (an annotated tag pushed to refs/heads/main) only after the hook, so a
// build made from it would go live under a ref that never moved.
std::string RefusalOfNonCommit(const GitRepo& repo, const RefUpdate& update) {
  Result<std::string> type = repo.ObjectType(update.new_id);
  if (!type.ok()) return update.ref + ": " + update.new_id.substr(0, 7) + " cannot be read";
  if (*type == "commit") return "";
  std::string what = *type == "tag" ? "an annotated tag" : "a " + *type;
  return update.ref + ": " + update.new_id.substr(0, 7) + " is " + what +
         ", not a commit; push a commit (for a tag: git push REMOTE TAG^{commit}:" + BranchName(update.ref) + ")";
}

// The refusal the pusher sees when their access is gone, or "".
std::string RefusalOfAccess(const HookContext& context) {
  if (context.backend == nullptr) return "";
  Status allowed = context.backend->Authorize(context.app, context.key_owner,
                                              {context.fingerprint, context.ca_fingerprint}, Backend::Access::kWrite);
  if (allowed.ok()) return "";
  switch (allowed.code()) {
    case Status::Code::kNotFound:
    case Status::Code::kPermissionDenied:
      log::Info("refused at the hook: access changed since the session opened", {{"reason", allowed.message()}});
      return AccessRefusal(context.app, allowed.IsNotFound(), context.config->push.distinguish_missing_apps);
    case Status::Code::kUnavailable:
    case Status::Code::kTimeout:
      log::Info("refused at the hook: access cannot be checked", {{"reason", allowed.message()}});
      return allowed.message();
    case Status::Code::kUnimplemented:
      log::Error("pushgate and the controller do not fit together", {{"error", allowed.message()}});
      return "pushgate is misconfigured on the server; tell the platform operator";
    default:
      log::Error("cannot check access again", {{"error", allowed.message()}});
      return "pushgate could not check your access (" + std::string(CodeName(allowed.code())) +
             "); try again shortly";
  }
}

}  // namespace

Result<std::vector<RefUpdate>> ReadRefUpdates(LineReader& lines) {
  std::vector<RefUpdate> updates;
  std::string_view line;
  for (;;) {
    PG_ASSIGN_OR_RETURN(bool more, lines.Next(line));
    if (!more) break;
    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos) {
      return Status::InvalidArgument("malformed ref update line from git: " + std::string(line.substr(0, 100)));
    }
    RefUpdate u{std::string(line.substr(0, first)), std::string(line.substr(first + 1, second - first - 1)),
                std::string(line.substr(second + 1))};
    if (!IsHexId(u.old_id) || !IsHexId(u.new_id) || u.ref.empty()) {
      return Status::InvalidArgument("malformed ref update line from git: " + std::string(line.substr(0, 100)));
    }
    updates.push_back(std::move(u));
  }
  return updates;
}

RefVerdict JudgeRefUpdates(const Config& config, const std::vector<RefUpdate>& updates) {
  RefVerdict verdict;
  for (const RefUpdate& u : updates) {
    if (!config.IsDeployRef(u.ref)) {
      verdict.refusals.push_back(u.ref + ": pushgate deploys only " + AcceptedRefs(config) +
                                 "; push your branch to one of them, e.g. git push REMOTE " +
                                 BranchName(u.ref) + ":" + BranchName(config.deploy_refs.front()));
      continue;
    }
    if (u.new_id == kZeroId) {
      verdict.refusals.push_back(u.ref + ": deleting a deploy branch is not allowed");
      continue;
    }
    bool duplicate = false;
    for (const RefUpdate& d : verdict.deploys) duplicate = duplicate || d.new_id == u.new_id;
    if (!duplicate) verdict.deploys.push_back(u);
  }
  // Two different commits would mean two deploys, the first of which could
  // not be undone if the second failed; one push deploys one commit.
  if (verdict.deploys.size() > 1) {
    verdict.refusals.push_back("this push updates several deploy branches to different commits; "
                               "push one deploy branch at a time");
  }
  return verdict;
}

int RunPreReceive(const HookContext& context, const GitRepo& repo, const std::vector<RefUpdate>& updates) {
  const std::string& data_dir = context.config->data_dir;
  LogRelay relay(context.out_fd, context.session_fd, context.config->build.keepalive);
  RefVerdict verdict = JudgeRefUpdates(*context.config, updates);
  Status options = CheckPushOptions(context.push_options);
  if (!options.ok()) verdict.refusals.push_back(options.message());
  for (const RefUpdate& update : verdict.deploys) {
    std::string refusal = RefusalOfNonCommit(repo, update);
    if (!refusal.empty()) verdict.refusals.push_back(std::move(refusal));
  }
  // The workflow driver asks again with its first step, the config hook.
  if (verdict.refusals.empty() && context.config->build.driver != BuildDriver::kWorkflow) {
    std::string refusal = RefusalOfAccess(context);
    if (!refusal.empty()) verdict.refusals.push_back(std::move(refusal));
  }
  if (!verdict.refusals.empty()) {
    for (const std::string& refusal : verdict.refusals) (void)relay.Say(" !     " + refusal);
    (void)relay.Say(" !     The push was rejected; nothing was changed.");
    log::Info("push refused", {{"reason", verdict.refusals.front()}});
    metrics::Add(data_dir, metrics::Counter::kPushRejected);
    (void)relay.Drain(kFinalDrain);
    return 1;
  }
  int exit_code = 0;
  for (const RefUpdate& update : verdict.deploys) {
    Deployment deployment(context, update, relay);
    bool deployed = deployment.Run(repo);
    deployment.RecordMetrics();
    if (!deployed) {
      exit_code = 1;
      break;
    }
  }
  // A local build's log is kept with its release (the platform keeps a
  // controller build's). The hook still holds the app lock, as SaveBuildLog needs.
  if (context.config->build.driver == BuildDriver::kLocal && !verdict.deploys.empty()) {
    Status saved = SaveBuildLog(context.config->dirs().Releases() + "/" + context.app, context.request_id,
                                relay.Transcript());
    if (!saved.ok()) log::Warn("cannot keep the build log", {{"error", saved.message()}});
  }
  Status drained = relay.Drain(kFinalDrain);
  if (!drained.ok()) log::Warn("the pusher did not read pushgate's last lines", {{"error", drained.message()}});
  if (relay.dropped_bytes() > 0) log::Warn("build output dropped", {{"bytes", std::to_string(relay.dropped_bytes())}});
  return exit_code;
}

}  // namespace pushgate
