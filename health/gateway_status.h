// `pushgate status`: what an operator (or a probe) needs to know about a
// gateway, and whether it is healthy.
#ifndef PUSHGATE_HEALTH_GATEWAY_STATUS_H_
#define PUSHGATE_HEALTH_GATEWAY_STATUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace pushgate {

struct GatewayStatus {
  enum class Health { kHealthy = 0, kDegraded = 1, kDown = 2 } health = Health::kHealthy;
  std::vector<std::string> problems;  // why it is not healthy, one line each

  std::string mode;
  bool draining = false;
  int pushes_in_flight = 0;
  int repos = 0;
  uint64_t disk_free_mb = 0;
  int disk_free_percent = 0;
  uint64_t keys = 0;
  // Controller mode: the key cache and the controller.
  int64_t cache_revision = 0;
  int64_t cache_age_s = -1;  // since the last successful sync; -1: never
  std::string cache_feed;
  std::string last_sync_error;
  bool controller_reachable = false;
  // The last pushgate-reaper run's JSON summary, if any.
  std::string last_reaper_run;

  // Readiness: not down and not draining (a degraded gateway, e.g. one
  // serving from a warm cache while the controller is away, still serves).
  bool CanTakePushes() const { return health != Health::kDown && !draining; }

  std::string ToJson() const;
  std::string ToText() const;
};

// Reads everything from data_dir (as git_user) and, in controller mode and
// with `ask_controller`, asks the controller once. The metrics exporter does
// not ask: a scrape must not cost the controller a request.
GatewayStatus CollectStatus(const Config& config, bool ask_controller = true);

}  // namespace pushgate

#endif  // PUSHGATE_HEALTH_GATEWAY_STATUS_H_
