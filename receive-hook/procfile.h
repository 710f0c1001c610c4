// Procfiles ("web: bundle exec puma"), as Heroku and Deis Workflow read them:
// one process type per line, its command after the colon. The stock
// builder hands the parsed map to the controller's build hook, which checks
// process types against ^[a-z0-9]+(-[a-z0-9]+)*$; refusing them here gives
// the pusher the line and the reason instead of a controller's 400.
#ifndef PUSHGATE_RECEIVE_HOOK_PROCFILE_H_
#define PUSHGATE_RECEIVE_HOOK_PROCFILE_H_

#include <map>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

inline constexpr size_t kMaxProcfileBytes = 64 * 1024;

// Blank lines and lines starting with '#' are skipped. A command wrapped in
// matching quotes ("..." or '...') is unquoted, as YAML would (no escapes).
// InvalidArgument names the line: a line without "type:", a bad process type,
// an empty command, a type given twice, control characters.
Result<std::map<std::string, std::string>> ParseProcfile(std::string_view text);

}  // namespace pushgate

#endif  // PUSHGATE_RECEIVE_HOOK_PROCFILE_H_
