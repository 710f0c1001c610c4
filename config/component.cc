#include "config/component.h"

#include <unistd.h>

#include "util/log.h"

namespace pushgate {

Result<Config> StartComponent(std::string_view program, const std::string& config_path,
                              const std::string& log_destination_override) {
  if (::geteuid() == 0) {
    return Status::PermissionDenied("run it as git_user (the owner of data_dir), not as root");
  }
  log::Destination override_destination;
  if (!log_destination_override.empty()) {
    PG_ASSIGN_OR_RETURN(override_destination, log::ParseDestination(log_destination_override));
  }
  log::Configure(program, {log::Destination::Kind::kSyslog, ""}, log::Level::kInfo);
  PG_ASSIGN_OR_RETURN(Config config, LoadConfig(config_path));
  if (!log_destination_override.empty()) config.log.destination = override_destination;
  log::Configure(program, config.log.destination, config.log.level);
  return config;
}

}  // namespace pushgate
