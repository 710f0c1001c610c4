#include "session/ssh_command.h"

#include "util/names.h"

namespace pushgate {
namespace {

constexpr size_t kMaxCommandLength = 512;

struct Verb {
  std::string_view spelling;
  GitService service;
};
constexpr Verb kVerbs[] = {
    {"git-receive-pack ", GitService::kReceivePack},
    {"git receive-pack ", GitService::kReceivePack},
    {"git-upload-pack ", GitService::kUploadPack},
    {"git upload-pack ", GitService::kUploadPack},
};

ParsedSshCommand NotGit() {
  ParsedSshCommand out;
  out.error.kind = SshCommandError::Kind::kNotGit;
  return out;
}

}  // namespace

ParsedSshCommand ParseSshCommand(std::string_view command) {
  if (command.empty() || command.size() > kMaxCommandLength) return NotGit();
  const Verb* verb = nullptr;
  for (const Verb& v : kVerbs) {
    if (command.substr(0, v.spelling.size()) == v.spelling) verb = &v;
  }
  if (verb == nullptr) return NotGit();
  std::string_view path = command.substr(verb->spelling.size());
  if (path.empty()) return NotGit();

  // One argument, quoted as a whole by git's sq_quote or not at all. An app
  // name never contains a quote, so git never needs its '\'' escape here.
  if (path.size() >= 2 && path.front() == '\'' && path.back() == '\'') {
    path = path.substr(1, path.size() - 2);
    if (path.find('\'') != std::string_view::npos) return NotGit();
  } else if (path.find_first_of("' \t\"\\") != std::string_view::npos) {
    return NotGit();
  }

  std::string_view name = path;
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.size() > 4 && name.substr(name.size() - 4) == ".git") name.remove_suffix(4);
  if (!IsValidAppName(name)) {
    ParsedSshCommand out;
    out.error.kind = SshCommandError::Kind::kInvalidAppName;
    out.error.repository = Printable(path, 80);
    return out;
  }
  ParsedSshCommand out;
  out.ok = true;
  out.command = GitCommand{verb->service, std::string(name)};
  return out;
}

std::string_view GitServiceName(GitService service) {
  return service == GitService::kReceivePack ? "git-receive-pack" : "git-upload-pack";
}

}  // namespace pushgate
