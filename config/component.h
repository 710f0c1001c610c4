// How pushgate's background binaries (pushgate-sync, pushgate-reaper) start:
// never as root, logging where the config says (or where --log-destination
// says: a sidecar logs to its container's stderr), with a validated config.
#ifndef PUSHGATE_CONFIG_COMPONENT_H_
#define PUSHGATE_CONFIG_COMPONENT_H_

#include <string>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace pushgate {

// Fails with kPermissionDenied as root (exit status 2 by convention) and
// with the config's error otherwise (exit status 1).
Result<Config> StartComponent(std::string_view program, const std::string& config_path,
                              const std::string& log_destination_override);

}  // namespace pushgate

#endif  // PUSHGATE_CONFIG_COMPONENT_H_
