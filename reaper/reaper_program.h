// pushgate-reaper as a function: start up as git_user, then one run
// (--once, exit status from its summary) or a run every interval until
// SIGTERM (--interval: a run the backend could not answer is retried with
// backoff, one that tripped the breaker waits for the next interval),
// optionally serving Prometheus metrics. Each run prints its summary.
#ifndef PUSHGATE_REAPER_REAPER_PROGRAM_H_
#define PUSHGATE_REAPER_REAPER_PROGRAM_H_

#include <optional>
#include <string>

#include "util/duration.h"

namespace pushgate {

struct ReaperProgramOptions {
  std::string config_path;
  bool once = false;                // else: every `interval`
  std::optional<Duration> interval;  // default reaper.interval
  bool dry_run = false;
  bool force = false;
  std::string metrics_listen;   // with an interval: HOST:PORT, or empty
  std::string log_destination;  // replaces [log] destination when set
};

// Exit status: --once, ReapSummary::ExitCode(); otherwise 0 once stopped,
// 1 a configuration or backend that cannot be used, 2 run as root or a
// metrics address that cannot be served.
int RunReaperProgram(const ReaperProgramOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_REAPER_REAPER_PROGRAM_H_
