// RunKeysHelper: pushgate-keys around AnswerKeysQuery (keys.cc). Linked into
// the static keys helper: no CLI11, nothing the hit path does not need.
#include <unistd.h>

#include <chrono>

#include "metrics/counters.h"
#include "program/startup.h"
#include "sshd-plugin/keys.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/process.h"

namespace pushgate {

bool SyncOfferedKey(const Config& config, const std::string& libexec_dir, const KeysQuery& query) {
  SpawnSpec spec;
  spec.path = libexec_dir + "/pushgate-sync";
  spec.argv = {spec.path, "--config", config.path, "--key", std::string(query.key_type), std::string(query.key_blob)};
  spec.env = {"PATH=/usr/bin:/bin"};
  Result<pid_t> pid = Spawn(spec);
  if (!pid.ok()) {
    log::Error("cannot run pushgate-sync", {{"error", pid.status().message()}});
    return false;
  }
  Result<std::optional<ExitStatus>> done = WaitForExitUntil(*pid, config.cache.sync_deadline);
  if (!done.ok() || !done->has_value()) {
    log::Warn("the key sync did not finish within cache.sync_deadline", {{"key", query.fingerprint}});
    return false;
  }
  return (*done)->success();
}

void CountKeyLookup(const Config& config, const KeysContext& context, bool denied) {
  using metrics::Counter;
  if (context.refresh != KeysContext::Refresh::kNone) {
    metrics::Add(config.data_dir,
                 context.refresh == KeysContext::Refresh::kMiss ? Counter::kKeyMiss : Counter::kKeyStale);
  }
  if (denied) metrics::Add(config.data_dir, Counter::kKeyDenied);
}

namespace {

// A failure that denies every login: to the log and to stderr.
int Fatal(const Status& status) {
  log::Error("denying every key", {{"error", status.message()}});
  PrintError("pushgate-keys: " + status.message());
  return 1;
}

}  // namespace

int RunKeysHelper(const std::string& config_path, const KeysQuery& query) {
  Result<Started> started = StartProgram({"pushgate-keys", config_path, "", false});
  if (!started.ok()) return Fatal(started.status());
  const Config& config = started->config;
  KeysContext context;
  context.now_ms = UnixNowMs();
  if (config.mode == Mode::kController) {
    context.sync = [&] { return SyncOfferedKey(config, started->libexec_dir, query); };
  }
  Result<std::string> line = AnswerKeysQuery(config, started->libexec_dir + "/pushgate-shell", query, context);
  if (!line.ok()) {
    return Fatal(line.status().Annotate("key lookup failed; denying " + std::string(query.fingerprint)));
  }
  CountKeyLookup(config, context, line->empty());
  if (line->empty()) {
    if (!context.denied_because.empty()) {
      log::Warn("refused " + context.denied_because, {{"key", query.fingerprint}});
    } else {
      log::Debug("no match", {{"key", query.fingerprint}, {"login", query.login_user}});
    }
    return 0;
  }
  return WriteAll(STDOUT_FILENO, *line).ok() ? 0 : 1;
}

}  // namespace pushgate
