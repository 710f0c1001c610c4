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
  std::map<std::string, CLI::App*> groups;
  for (const pushgate::CommandGroup& group : pushgate::CommandGroups()) {
    CLI::App* sub = app.add_subcommand(group.name, group.help);
    sub->require_subcommand(1);
    sub->fallthrough();
    groups[group.name] = sub;
  }
  const pushgate::Command* chosen = nullptr;
  for (const pushgate::Command& command : pushgate::Commands()) {
    CLI::App* parent = command.group != nullptr ? groups.at(command.group) : &app;
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
