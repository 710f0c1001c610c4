#include "metrics/exporter.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "health/gateway_status.h"
#include "metrics/counters.h"

namespace pushgate::metrics {
namespace {

class Exposition {
 public:
  void Family(const char* name, const char* type, const char* help) {
    text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    text_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number + "\n";
  }
  void Counted(const char* name, const char* label, const Snapshot& snap,
               std::initializer_list<std::pair<const char*, Counter>> values) {
    for (const auto& [value, counter] : values) {
      Sample(name, std::string(label) + "=\"" + value + "\"", static_cast<double>(snap.Get(counter)));
    }
  }
  void Histo(const char* name, const char* help, const HistogramData& h) {
    Family(name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketBounds.size(); ++i) {
      cumulative += h.buckets[i];
      char bound[32];
      std::snprintf(bound, sizeof bound, "%g", kBucketBounds[i]);
      Sample(std::string(name) + "_bucket", std::string("le=\"") + bound + "\"", static_cast<double>(cumulative));
    }
    uint64_t count = h.Count();
    Sample(std::string(name) + "_bucket", "le=\"+Inf\"", static_cast<double>(count));
    Sample(std::string(name) + "_sum", "", static_cast<double>(h.sum_us) / 1e6);
    Sample(std::string(name) + "_count", "", static_cast<double>(count));
  }
  void Gauge(const char* name, const char* help, double value) {
    Family(name, "gauge", help);
    Sample(name, "", value);
  }
  std::string Finish() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

std::string RenderMetrics(const Config& config) {
  Exposition out;
  Result<Snapshot> read = ReadCounters(config.data_dir);
  Snapshot snap = read.ok() ? *read : Snapshot();
  out.Gauge("pushgate_metrics_readable", "1 if the shared counters file could be read", read.ok() ? 1 : 0);

  out.Family("pushgate_key_lookups_total", "counter",
             "keys helper answers: hit counts sessions started with a matched key, miss and stale count "
             "controller refreshes, denied counts keys matching no user");
  out.Counted("pushgate_key_lookups_total", "result", snap,
              {{"hit", Counter::kKeyHit}, {"miss", Counter::kKeyMiss}, {"stale", Counter::kKeyStale},
               {"denied", Counter::kKeyDenied}});
  out.Family("pushgate_sessions_total", "counter", "ssh sessions by what the session steps did with them (either front end)");
  out.Counted("pushgate_sessions_total", "kind", snap,
              {{"push", Counter::kSessionPush}, {"fetch", Counter::kSessionFetch},
               {"command", Counter::kSessionCommand}, {"refused", Counter::kSessionRefused}});
  out.Family("pushgate_rollbacks_total", "counter", "rollbacks of an app's current release (ssh rollback)");
  out.Sample("pushgate_rollbacks_total", "", static_cast<double>(snap.Get(Counter::kRollback)));
  out.Family("pushgate_pushes_total", "counter", "pushes that reached the pre-receive hook, by outcome");
  out.Counted("pushgate_pushes_total", "outcome", snap,
              {{"deployed", Counter::kPushDeployed}, {"build_failed", Counter::kPushBuildFailed},
               {"rejected", Counter::kPushRejected}, {"error", Counter::kPushError}});
  out.Histo("pushgate_push_duration_seconds", "time in the pre-receive hook per push",
            snap.Get(Histogram::kPushSeconds));
  out.Family("pushgate_builds_total", "counter", "builds by outcome (error: timed out, interrupted, not started)");
  out.Counted("pushgate_builds_total", "outcome", snap,
              {{"succeeded", Counter::kBuildSucceeded}, {"failed", Counter::kBuildFailed},
               {"error", Counter::kBuildError}});
  out.Histo("pushgate_build_duration_seconds", "build time as the hook saw it", snap.Get(Histogram::kBuildSeconds));
  out.Family("pushgate_syncs_total", "counter", "key cache syncs with the controller, by result");
  out.Counted("pushgate_syncs_total", "result", snap, {{"ok", Counter::kSyncOk}, {"error", Counter::kSyncError}});
  out.Histo("pushgate_sync_duration_seconds", "key cache sync time", snap.Get(Histogram::kSyncSeconds));
  out.Family("pushgate_reaper_runs_total", "counter", "reaper runs by result");
  out.Counted("pushgate_reaper_runs_total", "result", snap,
              {{"ok", Counter::kReaperRunOk}, {"error", Counter::kReaperRunError},
               {"breaker", Counter::kReaperRunBreaker}});
  out.Family("pushgate_reaper_repos_removed_total", "counter", "repositories of deleted apps removed");
  out.Sample("pushgate_reaper_repos_removed_total", "", static_cast<double>(snap.Get(Counter::kReaperReposRemoved)));

  out.Family("pushgate_sshd_connections_total", "counter",
             "pushgate-sshd connections: accepted, or refused by reason (full: sshd.max_connections; "
             "unauthenticated: sshd.max_unauthenticated; proxy: a missing, broken or untrusted PROXY header; "
             "user_limit: a per-user limit; login_timeout: sshd.login_grace_time; "
             "auth_failed: left without authenticating)");
  out.Counted("pushgate_sshd_connections_total", "result", snap,
              {{"accepted", Counter::kSshdAccepted}, {"full", Counter::kSshdRefusedFull},
               {"unauthenticated", Counter::kSshdRefusedUnauthenticated}, {"proxy", Counter::kSshdRefusedProxy},
               {"user_limit", Counter::kSshdRefusedUserLimit},
               {"login_timeout", Counter::kSshdLoginTimeout}, {"auth_failed", Counter::kSshdAuthFailed}});
  out.Histo("pushgate_sshd_handshake_duration_seconds", "pushgate-sshd: accept to keys exchanged",
            snap.Get(Histogram::kSshdHandshakeSeconds));
  out.Histo("pushgate_sshd_auth_duration_seconds", "pushgate-sshd: keys exchanged to authenticated",
            snap.Get(Histogram::kSshdAuthSeconds));
  out.Gauge("pushgate_sshd_unauthenticated", "pushgate-sshd connections not yet authenticated",
            static_cast<double>(snap.Get(Gauge::kSshdUnauthenticated)));
  out.Gauge("pushgate_sshd_unauthenticated_limit", "sshd.max_unauthenticated of the running pushgate-sshd",
            static_cast<double>(snap.Get(Gauge::kSshdUnauthenticatedLimit)));
  out.Gauge("pushgate_sshd_connections", "pushgate-sshd connections open now",
            static_cast<double>(snap.Get(Gauge::kSshdConnections)));
  out.Gauge("pushgate_sshd_sessions", "pushgate-sshd authenticated connections now",
            static_cast<double>(snap.Get(Gauge::kSshdSessions)));

  GatewayStatus status = CollectStatus(config, /*ask_controller=*/false);
  out.Gauge("pushgate_health", "0 healthy, 1 degraded, 2 down (as pushgate status, without asking the controller)",
            static_cast<int>(status.health));
  out.Gauge("pushgate_draining", "1 while new pushes are refused (pushgate drain on)", status.draining ? 1 : 0);
  out.Gauge("pushgate_pushes_in_flight", "pushes holding an app lock now", status.pushes_in_flight);
  out.Gauge("pushgate_repos", "repositories in data_dir", status.repos);
  out.Gauge("pushgate_disk_free_bytes", "free space on data_dir's file system",
            static_cast<double>(status.disk_free_mb) * 1024 * 1024);
  out.Gauge("pushgate_keys", "keys in the registry or the key cache", static_cast<double>(status.keys));
  if (config.mode == Mode::kController) {
    out.Gauge("pushgate_cache_revision", "the controller's key revision the cache holds",
              static_cast<double>(status.cache_revision));
    out.Gauge("pushgate_cache_age_seconds", "since the last successful sync (-1: never)",
              static_cast<double>(status.cache_age_s));
  }
  return out.Finish();
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const Config& config, const std::string& listen) {
  if (listen.empty()) return std::unique_ptr<MetricsServer>();
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  std::string port_text = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535) {
    return Status::InvalidArgument("--metrics-listen wants HOST:PORT (e.g. 0.0.0.0:9464), not '" + listen + "'");
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  server->server_ = std::make_unique<httplib::Server>();
  // httplib's default adds SO_REUSEPORT, which would let a second exporter
  // share the port silently; a taken port must be an error.
  server->server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    // Without it a restart waits out TIME_WAIT; the bind that follows still
    // reports a port really in use, so a failure here costs only that.
    (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // A copy: the server thread must not depend on the caller's Config.
  server->server_->Get("/metrics", [config](const httplib::Request&, httplib::Response& response) {
    response.set_content(RenderMetrics(config), "text/plain; version=0.0.4; charset=utf-8");
  });
  int port = std::stoi(port_text);
  server->port_ = port == 0 ? server->server_->bind_to_any_port(host) : port;
  if (port != 0 && !server->server_->bind_to_port(host, port)) server->port_ = -1;
  if (server->port_ < 0) return Status::Unavailable("cannot listen on " + listen + " for metrics");
  server->thread_ = std::thread([s = server->server_.get()] { s->listen_after_bind(); });
  // httplib's stop() does nothing until the loop runs: wait for it, so a
  // server destroyed right away still stops.
  for (int i = 0; i < 5000 && !server->server_->is_running(); ++i) ::usleep(1000);
  return server;
}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pushgate::metrics
