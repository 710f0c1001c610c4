#include "program/startup.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "util/fs.h"
#include "util/log.h"

namespace pushgate {
namespace {

std::atomic<bool>* g_stop = nullptr;

void OnStopSignal(int) {
  if (g_stop != nullptr) g_stop->store(true);
}

}  // namespace

Result<Started> StartProgram(const StartOptions& options) {
  if (options.refuse_root && ::geteuid() == 0) {
    return Status::PermissionDenied("run it as git_user (the owner of data_dir), not as root");
  }
  log::Destination override_destination;
  if (!options.log_destination.empty()) {
    PG_ASSIGN_OR_RETURN(override_destination, log::ParseDestination(options.log_destination));
  }
  log::Configure(options.program, {log::Destination::Kind::kSyslog, ""}, log::Level::kInfo);
  Started started;
  Result<Config> config = LoadConfig(options.config_path);
  if (!config.ok()) return config.status().Annotate("cannot load config");
  started.config = std::move(config).value();
  if (!options.log_destination.empty()) started.config.log.destination = override_destination;
  log::Configure(options.program, started.config.log.destination, started.config.log.level);
  Result<std::string> dir = ExecutableDir();
  if (!dir.ok()) return dir.status().Annotate("cannot locate the installation");
  started.libexec_dir = std::move(dir).value();
  return started;
}

int FailWith(std::string_view program, const Status& status, int exit_code) {
  PrintError(std::string(program) + ": " + status.message());
  return exit_code;
}

int StartFailureExit(const Status& status) { return status.code() == Status::Code::kPermissionDenied ? 2 : 1; }

std::optional<std::string> EnvIfSet(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string EnvOrEmpty(const char* name) { return EnvIfSet(name).value_or(""); }

void PrintError(std::string_view line) {
  std::string text(line);
  text += '\n';
  (void)WriteAll(STDERR_FILENO, text);  // stderr is where the error would go: nowhere left to tell
}

void StopOnSignals(std::atomic<bool>* stop) {
  g_stop = stop;
  // Fail only for invalid signal numbers, which these are not.
  (void)::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) (void)::sigaction(sig, &sa, nullptr);
}

}  // namespace pushgate
