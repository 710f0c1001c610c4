// Parsing SSH_ORIGINAL_COMMAND for the forced shell.
//
// The allowlist is exact: git-receive-pack or git-upload-pack (also spelled
// "git receive-pack" / "git upload-pack"), one space, and one repository path
// that is an app name, optionally single-quoted (as git sends it), optionally
// with a leading '/' and a trailing ".git". Nothing else: no options, no extra
// arguments, no other quoting, no case folding. No shell ever sees the command.
#ifndef PUSHGATE_SESSION_SSH_COMMAND_H_
#define PUSHGATE_SESSION_SSH_COMMAND_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

enum class GitService { kReceivePack, kUploadPack };

struct GitCommand {
  GitService service = GitService::kUploadPack;
  std::string app;
};

struct SshCommandError {
  enum class Kind {
    kNotGit,          // empty (interactive login) or any other command
    kInvalidAppName,  // a git command whose repository is not a valid app name
  } kind;
  std::string repository;  // kInvalidAppName: the path as given, for the message
};

// Either a GitCommand or the reason the command is refused.
struct ParsedSshCommand {
  bool ok = false;
  GitCommand command;
  SshCommandError error;
};

ParsedSshCommand ParseSshCommand(std::string_view original_command);

// "git-receive-pack" or "git-upload-pack".
std::string_view GitServiceName(GitService service);

}  // namespace pushgate

#endif  // PUSHGATE_SESSION_SSH_COMMAND_H_
