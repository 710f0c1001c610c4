// A push or fetch session, as named steps that every SSH front end calls in
// the same order (pushgate-shell under OpenSSH today):
//
//   CountPusherRequest the pusher's request rate (push.max_requests_per_minute)
//   ParseRequest       the client's command: a git push or fetch of a valid app
//   AuthorizeRequest   may this user (and key) do that, asked of the backend
//   PrepareDataDir     data_dir's directories exist
//   AcquirePushLock    pushes: a push slot of the pusher's
//                      (push.max_pushes_per_user), not draining, and the
//                      app's lock, waiting for a deploy in progress (not for
//                      a client that has left)
//   PrepareRepository  the bare repository exists, is a real directory, and
//                      holds nothing a killed push left behind
//   DescribeGit        git's program, arguments and whole environment
//   ServeSession       run it: a fetch replaces the process with
//                      git-upload-pack; a push runs git-receive-pack under the
//                      session relay (session_relay.h), which ends a session
//                      gone idle, with the lock handed to git so that it
//                      covers the pre-receive hook's deploy and ends with it
//
// DecideSession runs the steps up to DescribeGit. Each step returns a
// Refusal, or nothing to go on; no step runs a shell.
#ifndef PUSHGATE_SESSION_SESSION_H_
#define PUSHGATE_SESSION_SESSION_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend.h"
#include "config/config.h"
#include "session/pusher_command.h"
#include "session/ssh_command.h"
#include "util/fd.h"
#include "util/lock.h"
#include "util/process.h"

namespace pushgate {

struct SessionRequest {
  std::string user;         // who the front end authenticated (pushgate-shell: --user)
  std::string fingerprint;  // the key they authenticated with (--key)
  std::optional<std::string> original_command;  // what the client asked to run (SSH_ORIGINAL_COMMAND)
  std::optional<std::string> git_protocol;      // GIT_PROTOCOL, if the client sent it
  std::string request_id;
  // The client as the front end knows it, for logs and the hook: "ADDR PORT"
  // from OpenSSH's SSH_CONNECTION, or pushgate-sshd's peer (the PROXY
  // header's client behind a load balancer). May be empty.
  std::string client;
  std::string libexec_dir;  // where pushgate's programs and hooks are installed
  // The ssh session's channel (stdout). A push hands a duplicate down to the
  // hook, which polls it to learn that the pusher has gone: git-receive-pack
  // itself does not tell its hook.
  int session_fd = 1;
  int session_in_fd = 0;  // the client's side (stdin), watched for hangup while waiting
  // An SSH certificate's CA (pushgate-shell: --ca); empty for a plain key.
  std::string ca_fingerprint = {};

  // How the pusher logged in, as the backend is asked about it.
  Backend::Credential credential() const { return {fingerprint, ca_fingerprint}; }
};

// A step's "no": one line for the client, and the session's exit status.
struct Refusal {
  std::string message;
  int exit_code = 1;
};

// What a push holds once AcquirePushLock has said yes.
struct PushLock {
  std::optional<FileLock> slot;  // one of the pusher's push slots, if limited, to be handed to git
  std::optional<FileLock> lock;  // the app's lock, to be handed to git
  UniqueFd session_fd;           // a duplicate of the channel, for the hook (PUSHGATE_CLIENT_FD)
  bool waited = false;           // another deploy held the lock first
};

// Counts the session against the key owner's request rate (session/pusher_limits.h).
[[nodiscard]] std::optional<Refusal> CountPusherRequest(const Config& config, const SessionRequest& request);
[[nodiscard]] std::optional<Refusal> ParseRequest(const Config& config, const SessionRequest& request,
                                                  GitCommand* command);
// What a git command asks of the backend: a push writes, a fetch reads.
Backend::Access AccessOf(const GitCommand& command);
[[nodiscard]] std::optional<Refusal> AuthorizeRequest(const Config& config, Backend& backend,
                                                      const SessionRequest& request, std::string_view app,
                                                      Backend::Access access);
[[nodiscard]] std::optional<Refusal> PrepareDataDir(const Config& config);
// Anything that changes what an app serves (a push, a rollback) holds its
// lock: not while draining, and waiting up to push.lock_timeout for a
// deploy in progress (not for a client that has left). `notify` prints a
// progress line to the client; `waited` is set if someone held it first.
[[nodiscard]] std::optional<Refusal> LockApp(const Config& config, const SessionRequest& request, std::string_view app,
                                             const std::function<void(std::string_view)>& notify,
                                             std::optional<FileLock>* lock, bool* waited);
// LockApp for a push, with the channel's duplicate for the hook. Does
// nothing for a fetch.
[[nodiscard]] std::optional<Refusal> AcquirePushLock(const Config& config, const SessionRequest& request,
                                                     const GitCommand& command,
                                                     const std::function<void(std::string_view)>& notify,
                                                     PushLock* push);
// `locked`: the caller holds the app's lock, so git's leftovers may be removed.
[[nodiscard]] std::optional<Refusal> PrepareRepository(const Config& config, const SessionRequest& request,
                                                       const GitCommand& command, bool locked);
// `hook_session_fd`: the channel duplicate for the hook, or -1.
SpawnSpec DescribeGit(const Config& config, const SessionRequest& request, const GitCommand& command,
                      int hook_session_fd);

// What the session does next: run git, or print `message` and exit.
struct SessionDecision {
  bool exec = false;
  SpawnSpec git;                 // exec: the git program to run
  std::optional<FileLock> lock;  // receive-pack: the app lock, handed to git
  std::optional<FileLock> slot;  // receive-pack: the pusher's push slot, if limited, handed to git
  UniqueFd session_fd;           // receive-pack: for the hook (PUSHGATE_CLIENT_FD)
  std::string message;           // refusal: one line for the client
  int exit_code = 0;
};

// The steps from ParseRequest to DescribeGit, stopping at the first refusal.
SessionDecision DecideSession(const Config& config, Backend& backend, const SessionRequest& request,
                              const std::function<void(std::string_view)>& notify);

// Runs what DecideSession decided to run, on this process's stdio: a fetch
// becomes git-upload-pack; a push runs git-receive-pack under the session
// relay with `config.push.idle_timeout`, handing it the app lock. Returns
// the exit status; `tell` gets the lines for the client.
int ServeSession(SessionDecision decision, const Config& config, const std::atomic<bool>* stop,
                 const std::function<void(std::string_view)>& tell);

// A pusher command (pusher_command.h) instead of git, with the same access
// rules: releases and logs read the app, rollback writes it under the app
// lock. Answers go to the channel's stdout (request.session_fd), refusals
// to `tell`. Returns the exit status.
int ServePusherCommand(const Config& config, Backend& backend, const SessionRequest& request,
                       const PusherCommand& command, const std::function<void(std::string_view)>& tell);

// Everything after authentication, as both front ends run it on a process
// whose stdio is the client's channel: log context, the key-hit count, the
// backend, then a pusher command (ServePusherCommand) or DecideSession, then (with SIGTERM and SIGHUP now ending the
// session through `stop`, as an idle one ends) ServeSession. `tell` prints
// a line for the client. Returns the session's exit status.
int RunSession(const Config& config, const SessionRequest& request, std::atomic<bool>* stop,
               const std::function<void(std::string_view)>& tell);

// Only "version=N" entries (N in 0..2), ':'-separated, pass; anything else is
// dropped rather than handed to git.
bool IsValidGitProtocol(std::string_view value);

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_SESSION_H_
