#include "receive-hook/push_options.h"

#include "util/names.h"

namespace pushgate {
namespace {

bool IsKeyChar(char c, bool first) {
  bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '.' || c == '_' || c == '-'));
}

}  // namespace

Status CheckPushOptions(const std::vector<std::string>& options) {
  if (options.size() > kMaxPushOptions) {
    return Status::InvalidArgument("this push carries " + std::to_string(options.size()) + " push options; at most " +
                                   std::to_string(kMaxPushOptions) + " are taken");
  }
  for (const std::string& option : options) {
    std::string shown = "push option '" + Printable(option, 60) + "'";
    if (option.size() > kMaxPushOptionBytes) {
      return Status::InvalidArgument(shown + " is longer than " + std::to_string(kMaxPushOptionBytes) + " bytes");
    }
    size_t eq = option.find('=');
    std::string_view key = std::string_view(option).substr(0, eq);
    bool key_ok = !key.empty() && key.size() <= 64;
    for (size_t i = 0; key_ok && i < key.size(); ++i) key_ok = IsKeyChar(key[i], i == 0);
    if (!key_ok) {
      return Status::InvalidArgument(shown + " does not start with a name of letters, digits, '.', '_' or '-' "
                                     "(use -o name or -o name=value)");
    }
    for (char c : option) {
      if (c < 0x20 || c > 0x7e) return Status::InvalidArgument(shown + " holds a character that is not printable ASCII");
    }
  }
  return Status::OK();
}

}  // namespace pushgate
