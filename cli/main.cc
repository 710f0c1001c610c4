// pushgate: the admin CLI (users, keys, apps, backup, status, drain, config). See `pushgate --help`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>

#include "cli/commands.h"
#include "config/config.h"

int main(int argc, char** argv) {
  CLI::App app("pushgate: manage the users, keys and apps of a standalone git push gateway");
  app.require_subcommand(1);
  app.set_version_flag("--version", PUSHGATE_VERSION);
  pushgate::CommandArgs args;
  args.config_path = std::string(pushgate::kDefaultConfigPath);
  app.add_option("--config", args.config_path, "configuration file")->capture_default_str();

  std::map<std::string, CLI::App*> groups;
  const pushgate::Command* chosen = nullptr;
  for (const pushgate::Command& command : pushgate::Commands()) {
    CLI::App* parent = &app;
    if (command.group != nullptr) {
      CLI::App*& group = groups[command.group];
      if (group == nullptr) {
        std::string help = std::string(command.group) == "config" ? "check the configuration"
                                                                   : std::string("manage ") + command.group + "s";
        group = app.add_subcommand(command.group, help);
        group->require_subcommand(1);
      }
      parent = group;
    }
    CLI::App* sub = parent->add_subcommand(command.name, command.help);
    command.declare(*sub, args);
    sub->callback([&chosen, &command] { chosen = &command; });
  }
  CLI11_PARSE(app, argc, argv);

  pushgate::Status status = chosen->run(args);
  if (!status.ok()) {
    std::fprintf(stderr, "pushgate: %s\n", status.message().c_str());
    // A probe (`status`) must not read a failure as "degraded".
    return std::string(chosen->name) == "status" ? 2 : 1;
  }
  return args.exit_code;
}
