// The layout of data_dir, owned by git_user: every path pushgate reads or
// writes there is a function of this class, and nothing else spells one
// (docs/architecture.md, "Data layout").
//
//   db/                     the LMDB environment: registry and key cache
//   repos/APP.git/          bare repositories
//   locks/APP.lock          per-app push locks; locks/.sync.lock the sync's
//   tmp/                    source archives while a build runs
//   trash/                  repositories being deleted by the reaper
//   releases/APP/           releases made by pushgate-deploy
//   drain                   present while draining
//   metrics                 the shared counters
//   reaper-last.json        the last reaper run's summary
#ifndef PUSHGATE_DATA_DIR_DATA_DIR_H_
#define PUSHGATE_DATA_DIR_DATA_DIR_H_

#include <string>
#include <string_view>

namespace pushgate {

class DataDir {
 public:
  explicit DataDir(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Db() const { return root_ + "/db"; }
  std::string Repos() const { return root_ + "/repos"; }
  std::string Repo(std::string_view app) const { return Repos() + "/" + std::string(app) + ".git"; }
  std::string Locks() const { return root_ + "/locks"; }
  std::string AppLock(std::string_view app) const { return Locks() + "/" + std::string(app) + ".lock"; }
  // Named so that no app's lock can be it (an app may be called "sync").
  std::string SyncLock() const { return Locks() + "/.sync.lock"; }
  std::string Tmp() const { return root_ + "/tmp"; }
  std::string Trash() const { return root_ + "/trash"; }
  std::string Releases() const { return root_ + "/releases"; }
  std::string DrainSwitch() const { return root_ + "/drain"; }
  std::string Counters() const { return root_ + "/metrics"; }
  // pushgate-sshd's default host keys.
  std::string SshdHostKeys() const { return root_ + "/sshd"; }
  // SSH user certificates: the trusted CA keys as an OpenSSH file (sshd's
  // TrustedUserCAKeys; `pushgate ca` writes it from the registry) and the
  // operator's KRL (ssh-keygen -k), which both front ends read.
  std::string Ssh() const { return root_ + "/ssh"; }
  std::string TrustedUserCaKeys() const { return Ssh() + "/trusted_user_ca_keys"; }
  std::string RevokedKeys() const { return Ssh() + "/revoked_keys"; }
  std::string LastReaperRun() const { return root_ + "/reaper-last.json"; }
  // Per-pusher limits (session/pusher_limits.h): a key owner's push slots
  // and request rate. Owners are user names or deploy key owners, never
  // "." or "..", without '/'.
  std::string Pushers() const { return root_ + "/pushers"; }
  std::string PusherPushSlot(std::string_view owner, int slot) const {
    return Pushers() + "/" + std::string(owner) + ".push." + std::to_string(slot);
  }
  std::string PusherRate(std::string_view owner) const { return Pushers() + "/" + std::string(owner) + ".rate"; }

 private:
  std::string root_;
};

// The app whose lock file is `file_name` (an entry of Locks()), or "" for
// any other file there (.sync.lock, strays).
std::string AppOfLockFile(std::string_view file_name);

}  // namespace pushgate

#endif  // PUSHGATE_DATA_DIR_DATA_DIR_H_
