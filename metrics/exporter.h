// The Prometheus endpoint of the long-running sidecars (--metrics-listen):
// the shared counters (metrics/counters.h) plus gauges read from data_dir
// when scraped. Names and meanings: docs/operations.md, "Metrics".
#ifndef PUSHGATE_METRICS_EXPORTER_H_
#define PUSHGATE_METRICS_EXPORTER_H_

#include <memory>
#include <string>
#include <thread>

#include "config/config.h"
#include "util/status.h"

namespace httplib {
class Server;
}

namespace pushgate::metrics {

// The text exposition format (version 0.0.4) of everything pushgate exports.
std::string RenderMetrics(const Config& config);

// Serves GET /metrics on a background thread until destroyed.
class MetricsServer {
 public:
  // `listen` is HOST:PORT ("0.0.0.0:9464", "[::1]:9464", ":9464" for all
  // addresses); port 0 picks a free one (see port()). An empty `listen`
  // serves nothing: the result is a null server.
  static Result<std::unique_ptr<MetricsServer>> Start(const Config& config, const std::string& listen);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace pushgate::metrics

#endif  // PUSHGATE_METRICS_EXPORTER_H_
