// pushgate-shell: the forced command of every pushgate key.
//
// sshd runs it as `pushgate-shell --config F --user USER --key FINGERPRINT`
// with the client's request in SSH_ORIGINAL_COMMAND. It allows exactly a git
// push or fetch of an app the user may use (ssh_command.h, backend.h), makes
// sure the bare repository exists, and replaces itself with git. Pushes to one
// app are serialized by the app's lock, which is taken here and handed to
// git-receive-pack across exec so it covers the pre-receive hook's deploy.
#ifndef PUSHGATE_SSHD_PLUGIN_SHELL_H_
#define PUSHGATE_SSHD_PLUGIN_SHELL_H_

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
};

// What the shell does next: exec git, or print `message` and exit.
struct ShellDecision {
  bool exec = false;
  SpawnSpec git;                 // exec: the git program to become
  std::optional<FileLock> lock;  // exec of receive-pack: the app lock to keep
  UniqueFd session_fd;           // exec of receive-pack: for the hook (PUSHGATE_CLIENT_FD)
  std::string message;           // refusal: one line for the pusher
  int exit_code = 0;
};

// `notify` prints a progress line to the pusher (e.g. while waiting for the lock).
ShellDecision DecideShell(const Config& config, Backend& backend, const ShellRequest& request,
                          const std::function<void(std::string_view)>& notify);

// Only "version=N" entries (N in 0..2), ':'-separated, pass; anything else is
// dropped rather than handed to git.
bool IsValidGitProtocol(std::string_view value);

}  // namespace pushgate

#endif  // PUSHGATE_SSHD_PLUGIN_SHELL_H_
