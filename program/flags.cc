#include "program/flags.h"

#include <unistd.h>

#include <vector>

#include "util/fs.h"

namespace pushgate {
namespace {

std::string Help(std::string_view program, std::string_view summary, std::span<const Flag> flags) {
  std::string text = std::string(summary) + "\nUsage: " + std::string(program) + " [OPTIONS]\n\nOptions:\n";
  auto row = [&text](std::string left, std::string_view help) {
    left = "  " + left;
    text += left;
    text += left.size() < 30 ? std::string(30 - left.size(), ' ') : "\n" + std::string(30, ' ');
    text += help;
    text += "\n";
  };
  row("-h,--help", "print this help and exit");
  for (const Flag& flag : flags) {
    std::string help(flag.help);
    if (flag.required) {
      help += " (required)";
    } else if (!flag.value->empty()) {
      help += " (default: " + *flag.value + ")";
    }
    row(std::string(flag.name) + " " + std::string(flag.metavar), help);
  }
  return text;
}

}  // namespace

int ReportUsageError(std::string_view command, std::string_view message) {
  std::string c(command);
  (void)WriteAll(STDERR_FILENO, c + ": " + std::string(message) + "\nTry '" + c + " --help'.\n");
  return kUsageExit;
}

std::optional<int> ParseFlags(std::string_view program, std::string_view summary, std::span<const Flag> flags, int argc,
                              const char* const* argv) {
  std::vector<bool> given(flags.size(), false);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      (void)WriteAll(STDOUT_FILENO, Help(program, summary, flags));
      return 0;
    }
    if (!arg.starts_with("--")) return ReportUsageError(program, "too many arguments: " + std::string(arg));
    size_t equals = arg.find('=');
    std::string_view name = arg.substr(0, equals);
    size_t index = 0;
    while (index < flags.size() && flags[index].name != name) ++index;
    if (index == flags.size()) return ReportUsageError(program, "unknown option " + std::string(name));
    if (given[index]) return ReportUsageError(program, std::string(name) + " is given twice");
    std::string_view value;
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
      value = argv[++i];
    } else {
      return ReportUsageError(program, std::string(name) + " needs a value");
    }
    *flags[index].value = std::string(value);
    given[index] = true;
  }
  for (size_t index = 0; index < flags.size(); ++index) {
    if (flags[index].required && !given[index]) {
      return ReportUsageError(program, std::string(flags[index].name) + " is required");
    }
  }
  return std::nullopt;
}

}  // namespace pushgate
