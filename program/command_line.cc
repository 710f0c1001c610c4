#include "program/command_line.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "util/spelling.h"

namespace pushgate {
namespace {

// "pushgate app" for the `app` group of `pushgate`.
std::string FullName(const CLI::App& app) {
  std::string name = app.get_name();
  for (const CLI::App* parent = app.get_parent(); parent != nullptr; parent = parent->get_parent()) {
    name = parent->get_name() + " " + name;
  }
  return name;
}

std::vector<const CLI::App*> NamedSubcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
}

// The option `name` as `level` sees it: its own, or (with fallthrough) one
// of its parents'.
const CLI::Option* FindOption(const CLI::App& level, const std::string& name) {
  for (const CLI::App* app = &level; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* option = app->get_option_no_throw(name)) return option;
    if (!app->get_fallthrough()) break;
  }
  return nullptr;
}

std::string CommandList(const CLI::App& level) {
  std::string list;
  for (const CLI::App* command : NamedSubcommands(level)) list += (list.empty() ? "" : ", ") + command->get_name();
  return list;
}

struct UsageProblem {
  std::string message;  // empty: none found
  std::string command;  // the (sub)command the words reached: whose --help to suggest
};

// The words of a command line checked before CLI11 sees them: CLI11 says
// "A subcommand is required" for a misspelt command and "APP is required"
// for an unknown option; these name the word that is wrong. No message:
// nothing wrong so far (CLI11 reports anything else; --help and --version
// are CLI11's to answer).
UsageProblem CheckWords(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return {"", FullName(*level)};
    if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "--version") return {"", FullName(*level)};
    if (arg.size() > 1 && arg[0] == '-') {
      std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* option = FindOption(*level, name);
      if (option == nullptr) return {"unknown option " + name, FullName(*level)};
      if (name.size() == arg.size()) i += option->get_items_expected_min();  // skip its values
      continue;
    }
    std::vector<const CLI::App*> commands = NamedSubcommands(*level);
    if (commands.empty()) continue;  // a positional argument
    const CLI::App* chosen = nullptr;
    std::vector<std::string_view> names;
    for (const CLI::App* command : commands) {
      if (command->get_name() == arg) chosen = command;
      names.push_back(command->get_name());
    }
    if (chosen == nullptr) {
      return {
          "unknown command '" + arg + "'" + DidYouMean(arg, names) + " (the commands are " + CommandList(*level) + ")",
          FullName(*level)};
    }
    level = chosen;
  }
  if (level->get_require_subcommand_min() > 0) {
    return {"say which command: " + CommandList(*level), FullName(*level)};
  }
  return {"", FullName(*level)};
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  UsageProblem problem = CheckWords(app, argc, argv);
  if (problem.message.empty()) {
    try {
      app.parse(argc, argv);
      return std::nullopt;
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      std::string what = e.what();
      // CLI11 calls every unexpected word an "argument".
      for (std::string_view unexpected :
           {"The following arguments were not expected: ", "The following argument was not expected: "}) {
        if (what.starts_with(unexpected)) what = "too many arguments: " + what.substr(unexpected.size());
      }
      problem.message = what;
    }
  }
  return ReportUsageError(problem.command, problem.message);
}

}  // namespace pushgate
