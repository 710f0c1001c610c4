// pushgate-keys --config FILE USER FINGERPRINT KEYTYPE KEY
//
// Arguments are fixed by the AuthorizedKeysCommand line (%u %f %t %k), so they
// are read by position: a general option parser would only add start-up cost
// to the hottest binary. Exit status: 0 answered (a line or nothing), 1 error
// (logged, and written to stderr, which sshd puts in its own log next to
// "AuthorizedKeysCommand ... failed": the log destination itself may be what
// is broken; nothing is printed on stdout, so sshd denies), 2 usage.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "config/config.h"
#include "metrics/counters.h"
#include "sshd-plugin/keys.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/process.h"

namespace {

constexpr char kUsage[] = "usage: pushgate-keys [--config FILE] %u %f %t %k\n";

// Controller mode's network path: pushgate-sync, installed beside this
// executable, run for the offered key and waited for up to the deadline. If
// it takes longer it is left to finish, so its answer is cached for the
// connection's second helper call or the next one.
bool RunSync(const pushgate::Config& config, const std::string& dir, const pushgate::KeysQuery& query) {
  pushgate::SpawnSpec spec;
  spec.path = dir + "/pushgate-sync";
  spec.argv = {spec.path, "--config", config.path, "--key", std::string(query.key_type),
               std::string(query.key_blob)};
  spec.env = {"PATH=/usr/bin:/bin"};
  pushgate::Result<pid_t> pid = pushgate::Spawn(spec);
  if (!pid.ok()) {
    pushgate::log::Error("cannot run pushgate-sync", {{"error", pid.status().message()}});
    return false;
  }
  pushgate::Result<std::optional<pushgate::ExitStatus>> done =
      pushgate::WaitForExitUntil(*pid, config.cache.sync_deadline);
  if (!done.ok() || !done->has_value()) {
    pushgate::log::Warn("the key sync did not finish within cache.sync_deadline", {{"key", query.fingerprint}});
    return false;
  }
  return (*done)->success();
}

// A failure that denies every login: to the log and to stderr.
int Fatal(std::string_view what, const pushgate::Status& status) {
  pushgate::log::Error(what, {{"error", status.message()}});
  std::string line = "pushgate-keys: " + std::string(what) + ": " + status.message() + "\n";
  (void)pushgate::WriteAll(STDERR_FILENO, line);
  return 1;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path(pushgate::kDefaultConfigPath);
  int arg = 1;
  if (arg < argc && std::strcmp(argv[arg], "--config") == 0 && arg + 1 < argc) {
    config_path = argv[arg + 1];
    arg += 2;
  } else if (arg < argc && std::strncmp(argv[arg], "--config=", 9) == 0) {
    config_path = argv[arg] + 9;
    arg += 1;
  }
  if (argc - arg != 4) {
    (void)pushgate::WriteAll(STDERR_FILENO, kUsage);
    return 2;
  }
  pushgate::log::Configure("pushgate-keys", {pushgate::log::Destination::Kind::kSyslog, ""},
                           pushgate::log::Level::kInfo);
  pushgate::Result<pushgate::Config> config = pushgate::LoadConfig(config_path);
  if (!config.ok()) return Fatal("cannot load config", config.status());
  pushgate::log::Configure("pushgate-keys", config->log.destination, config->log.level);

  pushgate::Result<std::string> dir = pushgate::ExecutableDir();
  if (!dir.ok()) return Fatal("cannot locate the installation", dir.status());
  pushgate::KeysQuery query{argv[arg], argv[arg + 1], argv[arg + 2], argv[arg + 3]};
  pushgate::KeysContext context;
  context.now_ms = NowMs();
  if (config->mode == pushgate::Mode::kController) {
    context.sync = [&] { return RunSync(*config, *dir, query); };
  }
  pushgate::Result<std::string> line = pushgate::AnswerKeysQuery(*config, *dir + "/pushgate-shell", query, context);
  if (!line.ok()) return Fatal("key lookup failed; denying " + std::string(query.fingerprint), line.status());
  using pushgate::metrics::Counter;
  if (context.refresh != pushgate::KeysContext::Refresh::kNone) {
    pushgate::metrics::Add(config->data_dir, context.refresh == pushgate::KeysContext::Refresh::kMiss
                                                 ? Counter::kKeyMiss
                                                 : Counter::kKeyStale);
  }
  if (line->empty()) {
    pushgate::metrics::Add(config->data_dir, Counter::kKeyDenied);
    if (!context.denied_because.empty()) {
      pushgate::log::Warn("refused " + context.denied_because, {{"key", query.fingerprint}});
    } else {
      pushgate::log::Debug("no match", {{"key", query.fingerprint}, {"login", query.login_user}});
    }
    return 0;
  }
  return pushgate::WriteAll(STDOUT_FILENO, *line).ok() ? 0 : 1;
}
