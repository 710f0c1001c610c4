#include "receive-hook/procfile.h"

#include "util/names.h"

namespace pushgate {
namespace {

bool IsProcessType(std::string_view type) {
  if (type.empty() || type.size() > 63 || type.front() == '-' || type.back() == '-') return false;
  char previous = 0;
  for (char c : type) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
    if (c == '-' && previous == '-') return false;
    previous = c;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseProcfile(std::string_view text) {
  if (text.size() > kMaxProcfileBytes) {
    return Status::InvalidArgument("the Procfile is larger than " + std::to_string(kMaxProcfileBytes) + " bytes");
  }
  std::map<std::string, std::string> processes;
  size_t number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    auto error = [&](const std::string& what) {
      return Status::InvalidArgument("Procfile line " + std::to_string(number) + ": " + what);
    };
    for (char c : raw) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t' && c != '\r') || u == 0x7F) return error("contains a control character");
    }
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error("expected \"type: command\"");
    std::string type(Trim(line.substr(0, colon)));
    std::string_view command = Trim(line.substr(colon + 1));
    if (command.size() >= 2 && (command.front() == '"' || command.front() == '\'') &&
        command.back() == command.front()) {
      command = command.substr(1, command.size() - 2);
    }
    if (!IsProcessType(type)) {
      return error("the process type \"" + Printable(type, 40) +
                   "\" must be lowercase letters and digits, with single dashes between them");
    }
    if (command.empty()) return error("the " + type + " process has no command");
    if (!processes.emplace(type, std::string(command)).second) return error("the " + type + " process is given twice");
  }
  return processes;
}

}  // namespace pushgate
