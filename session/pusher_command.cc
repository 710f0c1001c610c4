#include "session/pusher_command.h"

#include <vector>

#include "util/names.h"

namespace pushgate {
namespace {

constexpr size_t kMaxCommandLength = 512;

struct Verb {
  std::string_view word;
  PusherCommandKind kind;
  std::string_view usage;
};
constexpr Verb kVerbs[] = {
    {"info", PusherCommandKind::kInfo, "info [--json]"},
    {"releases", PusherCommandKind::kReleases, "releases APP"},
    {"rollback", PusherCommandKind::kRollback, "rollback APP [vN]"},
    {"logs", PusherCommandKind::kLogs, "logs APP [vN]"},
};

// "v1" .. "v999999999", no leading zero.
std::optional<int> ParseVersion(std::string_view word) {
  if (word.size() < 2 || word.size() > 10 || word[0] != 'v' || word[1] == '0') return std::nullopt;
  int version = 0;
  for (char c : word.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + (c - '0');
  }
  return version;
}

ParsedPusherCommand Refuse(std::string error) {
  ParsedPusherCommand out;
  out.error = std::move(error);
  return out;
}

}  // namespace

ParsedPusherCommand ParsePusherCommand(const std::optional<std::string>& original_command, std::string_view git_user) {
  ParsedPusherCommand out;
  if (!original_command || original_command->empty()) {
    out.ok = true;
    return out;
  }
  std::string_view text = *original_command;
  std::string unknown = "pushgate does not provide shell access; the commands are: " + std::string(kPusherCommandList);
  if (text.size() > kMaxCommandLength) return Refuse(unknown);
  // Words separated by single spaces, and nothing but printable ASCII.
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      if (i == start) return Refuse(unknown);  // an empty word: leading, trailing or double space
      words.push_back(text.substr(start, i - start));
      start = i + 1;
    } else if (text[i] < 0x21 || text[i] > 0x7e) {
      return Refuse(unknown);
    }
  }
  const Verb* verb = nullptr;
  for (const Verb& v : kVerbs) {
    if (words[0] == v.word) verb = &v;
  }
  if (verb == nullptr) {
    return Refuse("unknown command '" + Printable(words[0], 40) + "'; " + unknown);
  }
  std::string usage = "usage: ssh " + std::string(git_user) + "@HOST " + std::string(verb->usage);
  out.command.kind = verb->kind;
  std::vector<std::string_view> args(words.begin() + 1, words.end());
  if (verb->kind == PusherCommandKind::kInfo) {
    if (args.size() > 1 || (args.size() == 1 && args[0] != "--json")) return Refuse(usage);
    out.command.json = args.size() == 1;
    out.ok = true;
    return out;
  }
  size_t max_args = verb->kind == PusherCommandKind::kReleases ? 1 : 2;
  if (args.empty() || args.size() > max_args) return Refuse(usage);
  if (!IsValidAppName(args[0])) {
    return Refuse("'" + Printable(args[0], 80) +
                  "' is not a valid app name: use lowercase letters, digits and '-'; " + usage);
  }
  out.command.app = std::string(args[0]);
  if (args.size() == 2) {
    out.command.version = ParseVersion(args[1]);
    if (!out.command.version) return Refuse("'" + Printable(args[1], 20) + "' is not a release version (v1, v2, ...); " + usage);
  }
  out.ok = true;
  return out;
}

std::string FormatPusherCommand(const PusherCommand& command) {
  std::string out;
  for (const Verb& v : kVerbs) {
    if (v.kind == command.kind) out = std::string(v.word);
  }
  if (command.json) out += " --json";
  if (!command.app.empty()) out += " " + command.app;
  if (command.version) out += " v" + std::to_string(*command.version);
  return out;
}

}  // namespace pushgate
