#include "receive-hook/hook.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "receive-hook/build_runner.h"
#include "receive-hook/source_archive.h"
#include "util/fd.h"
#include "util/fs.h"
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

void Say(const HookContext& context, std::string_view line) {
  std::string text(line);
  text += '\n';
  (void)WriteAll(context.out_fd, text);
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
  return "the gateway could not prepare the source (" + std::string(CodeName(s.code())) + ")";
}

// Archives and builds one deploy update. Returns true if the build succeeded.
bool Deploy(const HookContext& context, const GitRepo& repo, const RefUpdate& update) {
  const Config& config = *context.config;
  std::string short_id = update.new_id.substr(0, 7);
  Say(context, "-----> Building " + context.app + " (" + short_id + ") as " + context.user);
  log::Info("build starting", {{"sha", update.new_id}, {"ref", update.ref}});
  auto reject = [&](const std::string& why) {
    Say(context, " !     " + why);
    Say(context, " !     The push was rejected; " + context.app + " is unchanged.");
    return false;
  };

  Status dir = MakeDirs(config.TmpDir(), 0750);
  if (!dir.ok()) {
    log::Error("cannot create the tmp dir", {{"error", dir.message()}});
    return reject(DescribeFailure(dir) + "; tell the platform operator.");
  }
  TempFile archive{config.TmpDir() + "/" + context.app + "-" + short_id + "-" + RandomHex(4) + ".tar.gz"};
  UniqueFd fd(::open(archive.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    Status s = Status::FromErrno(errno, "create " + archive.path);
    archive.path.clear();
    log::Error("cannot create the source archive", {{"error", s.message()}});
    return reject(DescribeFailure(s) + "; tell the platform operator.");
  }
  Result<ArchiveInfo> info = WriteSourceArchive(repo, update.new_id, fd.get());
  if (info.ok() && ::fsync(fd.get()) != 0) info = Status::FromErrno(errno, "fsync " + archive.path);
  fd.Reset();
  if (!info.ok()) {
    log::Error("cannot archive the source", {{"error", info.status().message()}});
    if (info.status().code() == Status::Code::kInvalidArgument) {
      return reject("the pushed commit cannot be deployed: " + info.status().message());
    }
    return reject(DescribeFailure(info.status()) + "; tell the platform operator.");
  }

  BuildRequest build;
  build.timeout = config.build.timeout;
  build.log_fd = context.out_fd;
  build.session_fd = context.session_fd;
  build.cancel = context.cancel;
  if (config.build.command.empty()) {
    build.command.path = context.libexec_dir + "/pushgate-deploy";
    build.command.argv = {build.command.path};
  } else {
    build.command.path = config.build.command.front();
    build.command.argv = config.build.command;
  }
  build.command.cwd = config.data_dir;
  build.command.env = {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=" + config.data_dir,
      "LANG=C.UTF-8",
      "PUSHGATE_CONFIG=" + config.path,
      "PUSHGATE_APP=" + context.app,
      "PUSHGATE_USER=" + context.user,
      "PUSHGATE_SHA=" + update.new_id,
      "PUSHGATE_REF=" + update.ref,
      "PUSHGATE_SOURCE=" + archive.path,
      "PUSHGATE_SOURCE_SHA256=" + info->sha256,
      "PUSHGATE_REQUEST_ID=" + context.request_id,
  };
  Result<BuildResult> result = RunBuild(build);
  if (!result.ok()) {
    log::Error("cannot run the build command", {{"error", result.status().message()}});
    return reject("the build command could not be started (" + result.status().message() +
                  "); tell the platform operator.");
  }
  switch (result->outcome) {
    case BuildResult::Outcome::kSucceeded:
      log::Info("build succeeded", {{"sha", update.new_id}});
      return true;
    case BuildResult::Outcome::kFailed:
      log::Info("build failed", {{"sha", update.new_id}, {"exit", result->exit.Describe()}});
      return reject("Build failed (" + result->exit.Describe() + ").");
    case BuildResult::Outcome::kTimedOut:
      log::Warn("build timed out", {{"sha", update.new_id}});
      return reject("Build timed out after " + FormatDuration(config.build.timeout) + ".");
    case BuildResult::Outcome::kCancelled:
      log::Warn("build cancelled", {{"sha", update.new_id}});
      return reject("Build cancelled: the push was interrupted.");
    case BuildResult::Outcome::kOutputLost:
      log::Warn("pusher disconnected; build stopped", {{"sha", update.new_id}});
      return false;
  }
  return false;
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
  RefVerdict verdict = JudgeRefUpdates(*context.config, updates);
  if (!verdict.refusals.empty()) {
    for (const std::string& refusal : verdict.refusals) Say(context, " !     " + refusal);
    Say(context, " !     The push was rejected; nothing was changed.");
    log::Info("push refused", {{"reason", verdict.refusals.front()}});
    return 1;
  }
  for (const RefUpdate& update : verdict.deploys) {
    if (!Deploy(context, repo, update)) return 1;
  }
  return 0;
}

}  // namespace pushgate
