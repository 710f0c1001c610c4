// pushgate-hook: the pre-receive hook of every pushgate repository.
//
// git-receive-pack runs it (through core.hooksPath, set by pushgate-shell)
// with the pushed ref updates on stdin, while the pushed objects are still in
// quarantine. It judges every ref, then for each deploy ref archives exactly
// the pushed commit, runs the build command and relays its log. The push is
// accepted only if every build succeeds; otherwise git leaves every ref as it
// was. pushgate-shell holds the app lock for the whole receive-pack, so
// deploys of one app never overlap.
#ifndef PUSHGATE_RECEIVE_HOOK_HOOK_H_
#define PUSHGATE_RECEIVE_HOOK_HOOK_H_

#include <atomic>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "config/config.h"
#include "gitrepo/gitrepo.h"
#include "util/line_reader.h"
#include "util/status.h"

namespace pushgate {

inline constexpr std::string_view kZeroId = "0000000000000000000000000000000000000000";

struct RefUpdate {
  std::string old_id;
  std::string new_id;
  std::string ref;
};

// Reads "OLD NEW REF" lines as git-receive-pack writes them.
Result<std::vector<RefUpdate>> ReadRefUpdates(LineReader& lines);

struct RefVerdict {
  std::vector<RefUpdate> deploys;     // deploy-ref updates to build, in push order, one per commit
  std::vector<std::string> refusals;  // one message per refused ref
};

// Judges every update: only deploy refs may change, they may not be deleted,
// and one push deploys at most one commit.
RefVerdict JudgeRefUpdates(const Config& config, const std::vector<RefUpdate>& updates);

struct HookContext {
  const Config* config = nullptr;
  std::string app;
  std::string user;          // the pusher: a user, or "deploy-key:NAME" (util/names.h PusherOf)
  std::string key_owner;     // whose key it was, for the backend: the user, or the deploy key's owner
  std::string fingerprint;  // the key the pusher authenticated with (PUSHGATE_KEY)
  std::string request_id;
  std::vector<std::string> push_options;  // git push -o, as git gave them (push_options.h checks them)
  std::string libexec_dir;  // where the bundled pushgate-deploy lives
  int out_fd = 2;           // the pusher
  int session_fd = -1;      // the pusher's ssh channel (PUSHGATE_CLIENT_FD), -1 if unknown
  const std::atomic<bool>* cancel = nullptr;
  // Asked again before anything is built: the pusher's access was checked
  // when the session opened, and may have been revoked since.
  Backend* backend = nullptr;
  std::string ca_fingerprint = {};  // the pusher's certificate's CA (PUSHGATE_CA), or empty
};

// Runs the whole hook; returns its exit status (0 accepts the push). For
// each deploy, in order: the new value must be a commit; the pusher must
// still have access; the tree must be within the [push] limits and its
// symlinks inside the release; the release must fit on disk; then it is
// archived and built. Archiving counts against build.timeout and stops when
// the pusher leaves.
int RunPreReceive(const HookContext& context, const GitRepo& repo, const std::vector<RefUpdate>& updates);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_HOOK_H_
