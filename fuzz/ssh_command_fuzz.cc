// SSH_ORIGINAL_COMMAND and app names: an accepted git command is exactly
// one of the allowlisted spellings of a valid app name, an accepted pusher
// command is its own canonical spelling with a valid app name, and app-name
// validation agrees with the documented pattern.
#include <regex>
#include <set>
#include <string>

#include "fuzz/fuzz_check.h"
#include "session/pusher_command.h"
#include "session/ssh_command.h"
#include "util/names.h"

namespace {

const std::regex kAppPattern("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$");

std::set<std::string> Spellings(pushgate::GitService service, const std::string& app) {
  std::string name(pushgate::GitServiceName(service));
  std::set<std::string> out;
  for (const std::string& program : {name, "git " + name.substr(4)}) {
    for (const std::string& path : {app, "/" + app, app + ".git", "/" + app + ".git"}) {
      out.insert(program + " " + path);
      out.insert(program + " '" + path + "'");
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = AsText(data, size);
  pushgate::ParsedSshCommand parsed = pushgate::ParseSshCommand(input);
  if (parsed.ok) {
    FUZZ_CHECK(pushgate::IsValidAppName(parsed.command.app), "an accepted command names a valid app");
    FUZZ_CHECK(Spellings(parsed.command.service, parsed.command.app).count(std::string(input)) == 1,
               "an accepted command is one of the allowlisted spellings, byte for byte");
  }
  pushgate::ParsedPusherCommand pusher = pushgate::ParsePusherCommand(std::string(input), "git");
  if (pusher.ok && !input.empty()) {
    FUZZ_CHECK(!parsed.ok, "no command is both a git command and a pusher command");
    FUZZ_CHECK(pushgate::FormatPusherCommand(pusher.command) == input,
               "an accepted pusher command is its own canonical spelling, byte for byte");
    FUZZ_CHECK(pusher.command.app.empty() || pushgate::IsValidAppName(pusher.command.app),
               "a pusher command names a valid app or none");
  }
  if (size <= 80) {
    std::string name(input);
    FUZZ_CHECK(pushgate::IsValidAppName(name) == std::regex_match(name, kAppPattern),
               "IsValidAppName agrees with the documented pattern");
  }
  return 0;
}
