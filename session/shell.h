// pushgate-shell: the forced command of every pushgate key.
//
// sshd runs it as `pushgate-shell --config F --user USER --key FINGERPRINT`
// with the client's request in SSH_ORIGINAL_COMMAND. It allows exactly a git
// push or fetch of an app the user may use (ssh_command.h, backend.h), makes
// sure the bare repository exists, and runs git. A fetch replaces the shell
// with git-upload-pack. A push runs git-receive-pack under the session relay
// (session_relay.h), which ends a session that has gone idle. Pushes to one
// app are serialized by the app's lock, which is taken here and handed to
// git-receive-pack so it covers the pre-receive hook's deploy and ends with it.
#ifndef PUSHGATE_SESSION_SHELL_H_
#define PUSHGATE_SESSION_SHELL_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend.h"
#include "config/config.h"
#include "util/fd.h"
#include "util/lock.h"
#include "util/process.h"

namespace pushgate {

struct ShellRequest {
  std::string user;         // --user, from the authorized_keys line
  std::string fingerprint;  // --key
  std::optional<std::string> original_command;  // SSH_ORIGINAL_COMMAND
  std::optional<std::string> git_protocol;      // GIT_PROTOCOL, if the client sent it
  std::string request_id;
  std::string libexec_dir;  // where pushgate-shell and the hooks are installed
  // The ssh session's channel (stdout). A push hands a duplicate down to the
  // hook, which polls it to learn that the pusher has gone: git-receive-pack
  // itself does not tell its hook.
  int session_fd = 1;
  int session_in_fd = 0;  // the client's side (stdin), watched for hangup while waiting
};

// What the shell does next: exec git, or print `message` and exit.
struct ShellDecision {
  bool exec = false;
  SpawnSpec git;                 // exec: the git program to run
  std::optional<FileLock> lock;  // receive-pack: the app lock, handed to git
  UniqueFd session_fd;           // receive-pack: for the hook (PUSHGATE_CLIENT_FD)
  std::string message;           // refusal: one line for the pusher
  int exit_code = 0;
};

// `notify` prints a progress line to the pusher (e.g. while waiting for the lock).
ShellDecision DecideShell(const Config& config, Backend& backend, const ShellRequest& request,
                          const std::function<void(std::string_view)>& notify);

// Runs what DecideShell decided to run, on this process's stdio: a fetch
// becomes git-upload-pack; a push runs git-receive-pack under the session
// relay with `config.push.idle_timeout`, handing it the app lock. Returns
// the exit status for sshd; `tell` gets the lines for the pusher.
int ServeSession(ShellDecision decision, const Config& config, const std::atomic<bool>* stop,
                 const std::function<void(std::string_view)>& tell);

// Only "version=N" entries (N in 0..2), ':'-separated, pass; anything else is
// dropped rather than handed to git.
bool IsValidGitProtocol(std::string_view value);

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_SHELL_H_
