// pushgate-hook as a function: everything it needs comes from the
// environment pushgate-shell prepared (PUSHGATE_*, and the session channel
// in PUSHGATE_CLIENT_FD) and git's (GIT_DIR, the quarantine), the ref
// updates from stdin. Refuses to run without pushgate-shell's environment.
#ifndef PUSHGATE_RECEIVE_HOOK_HOOK_PROGRAM_H_
#define PUSHGATE_RECEIVE_HOOK_HOOK_PROGRAM_H_

#include <string>

namespace pushgate {

// `config_path`: --config, else PUSHGATE_CONFIG. Returns the hook's exit
// status: 0 accepts the push.
int RunHookProgram(const std::string& config_path);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_HOOK_PROGRAM_H_
