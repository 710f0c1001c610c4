// pushgate: the admin CLI (users, keys, apps, backup, status, drain, config). See `pushgate --help`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "config/config.h"
#include "program/command_line.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate: manage the users, keys and apps of a standalone git push gateway", "pushgate");
  app.require_subcommand(1);
  app.set_version_flag("--version", PUSHGATE_VERSION);
  pushgate::CommandArgs args;
  args.config_path = std::string(pushgate::kDefaultConfigPath);
  app.add_option("--config", args.config_path, "configuration file (may also follow the command)")
      ->envname("PUSHGATE_CONFIG")
      ->capture_default_str();

  // Every command falls through to its parent, so --config works after it.
  // A group inside another ("app key") is made when its first command is,
  // so its parent lists it after the commands before it.
  std::map<std::string, CLI::App*> groups;
  std::map<std::string, const char*> help;
  for (const pushgate::CommandGroup& group : pushgate::CommandGroups()) help[group.name] = group.help;
  auto group_app = [&](const std::string& path, auto& self) -> CLI::App* {
    if (auto found = groups.find(path); found != groups.end()) return found->second;
    size_t space = path.rfind(' ');
    CLI::App* parent = space == std::string::npos ? &app : self(path.substr(0, space), self);
    CLI::App* sub = parent->add_subcommand(path.substr(space + 1), help.at(path));
    sub->require_subcommand(1);
    sub->fallthrough();
    return groups[path] = sub;
  };
  for (const pushgate::CommandGroup& group : pushgate::CommandGroups()) {
    if (std::string(group.name).find(' ') == std::string::npos) group_app(group.name, group_app);
  }
  const pushgate::Command* chosen = nullptr;
  for (const pushgate::Command& command : pushgate::Commands()) {
    CLI::App* parent = command.group != nullptr ? group_app(command.group, group_app) : &app;
    CLI::App* sub = parent->add_subcommand(command.name, command.help);
    sub->fallthrough();
    command.declare(*sub, args);
    sub->callback([&chosen, &command] { chosen = &command; });
  }
  if (std::optional<int> exit = pushgate::ParseCommandLine(app, argc, argv)) return *exit;

  pushgate::Status status = chosen->run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "pushgate: %s\n", status.message().c_str());
    return chosen->failure_exit;
  }
  return args.exit_code;
}
