// `git push -o key=value`: what a push may carry to its build. git hands
// them to the pre-receive hook as GIT_PUSH_OPTION_COUNT and
// GIT_PUSH_OPTION_0.. ; pushgate checks them and passes them on, never
// interpreting one (a build may read `-o nocache`, say).
#ifndef PUSHGATE_RECEIVE_HOOK_PUSH_OPTIONS_H_
#define PUSHGATE_RECEIVE_HOOK_PUSH_OPTIONS_H_

#include <string>
#include <vector>

#include "util/status.h"

namespace pushgate {

inline constexpr size_t kMaxPushOptions = 16;
inline constexpr size_t kMaxPushOptionBytes = 256;

// OK if every option is KEY or KEY=VALUE, KEY of ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$,
// VALUE of printable ASCII, each at most kMaxPushOptionBytes, at most
// kMaxPushOptions in all; otherwise InvalidArgument saying which and why.
Status CheckPushOptions(const std::vector<std::string>& options);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_PUSH_OPTIONS_H_
