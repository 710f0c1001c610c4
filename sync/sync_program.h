// pushgate-sync as a function: start up as git_user, then one sync (--once),
// a sync for one key (--key, what the keys helper runs on a miss or a stale
// hit), or the daemon (--daemon: a sync every cache.refresh_after/3, backing
// off while the controller fails, optionally serving Prometheus metrics).
#ifndef PUSHGATE_SYNC_SYNC_PROGRAM_H_
#define PUSHGATE_SYNC_SYNC_PROGRAM_H_

#include <string>

namespace pushgate {

struct SyncProgramOptions {
  enum class Run { kOnce, kDaemon, kKey } run = Run::kOnce;
  std::string config_path;
  std::string key_type, key_blob;  // kKey
  std::string metrics_listen;      // kDaemon: HOST:PORT, or empty
  std::string log_destination;     // replaces [log] destination when set
};

// Exit status: 0 the controller answered (or the daemon was stopped), 1 it
// did not or the configuration is wrong, 2 run as root or a metrics address
// that cannot be served.
int RunSyncProgram(const SyncProgramOptions& options);

}  // namespace pushgate

#endif  // PUSHGATE_SYNC_SYNC_PROGRAM_H_
