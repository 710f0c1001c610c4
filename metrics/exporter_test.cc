#include "metrics/exporter.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "metrics/counters.h"
#include "tests/testing/testing.h"

namespace pushgate::metrics {
namespace {

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = dir_.path();
    config_.mode = Mode::kStandalone;
  }
  testing::TempDir dir_;
  Config config_;
};

TEST_F(ExporterTest, CountersAndHistogramsInTheTextFormat) {
  Add(dir_.path(), Counter::kKeyHit, 3);
  Add(dir_.path(), Counter::kKeyDenied);
  Add(dir_.path(), Counter::kPushDeployed, 2);
  Observe(dir_.path(), Histogram::kPushSeconds, 0.2);
  Observe(dir_.path(), Histogram::kPushSeconds, 20);
  std::string text = RenderMetrics(config_);
  for (const char* line : {
           "# TYPE pushgate_key_lookups_total counter\n",
           "pushgate_key_lookups_total{result=\"hit\"} 3\n",
           "pushgate_key_lookups_total{result=\"miss\"} 0\n",
           "pushgate_key_lookups_total{result=\"denied\"} 1\n",
           "pushgate_pushes_total{outcome=\"deployed\"} 2\n",
           "# TYPE pushgate_push_duration_seconds histogram\n",
           "pushgate_push_duration_seconds_bucket{le=\"0.05\"} 0\n",
           "pushgate_push_duration_seconds_bucket{le=\"0.25\"} 1\n",  // cumulative
           "pushgate_push_duration_seconds_bucket{le=\"15\"} 1\n",
           "pushgate_push_duration_seconds_bucket{le=\"30\"} 2\n",
           "pushgate_push_duration_seconds_bucket{le=\"+Inf\"} 2\n",
           "pushgate_push_duration_seconds_sum 20.199999999999999\n",
           "pushgate_push_duration_seconds_count 2\n",
           "pushgate_draining 0\n",
           "pushgate_metrics_readable 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  // Standalone has no key cache to report on.
  EXPECT_EQ(text.find("pushgate_cache_revision"), std::string::npos);
  // Every sample belongs to a family declared before it.
  EXPECT_EQ(text.find("pushgate_key_lookups_total{"), text.find("# TYPE pushgate_key_lookups_total") +
                                                          std::string("# TYPE pushgate_key_lookups_total counter\n").size());
}

// pushgate-sshd's listener sets gauges (values, not sums) and both its
// processes add to the connection counters and histograms.
TEST_F(ExporterTest, SshdConnectionsRefusalsAndGauges) {
  Add(dir_.path(), Counter::kSshdAccepted, 5);
  Add(dir_.path(), Counter::kSshdRefusedUnauthenticated, 2);
  Add(dir_.path(), Counter::kSshdLoginTimeout);
  Observe(dir_.path(), Histogram::kSshdHandshakeSeconds, 0.01);
  Set(dir_.path(), Gauge::kSshdUnauthenticated, 7);
  Set(dir_.path(), Gauge::kSshdUnauthenticated, 3);  // replaced, not added
  Set(dir_.path(), Gauge::kSshdUnauthenticatedLimit, 100);
  Set(dir_.path(), Gauge::kSshdSessions, 2);
  std::string text = RenderMetrics(config_);
  for (const char* line : {
           "# TYPE pushgate_sshd_connections_total counter\n",
           "pushgate_sshd_connections_total{result=\"accepted\"} 5\n",
           "pushgate_sshd_connections_total{result=\"unauthenticated\"} 2\n",
           "pushgate_sshd_connections_total{result=\"login_timeout\"} 1\n",
           "pushgate_sshd_connections_total{result=\"proxy\"} 0\n",
           "pushgate_sshd_handshake_duration_seconds_count 1\n",
           "pushgate_sshd_unauthenticated 3\n",
           "pushgate_sshd_unauthenticated_limit 100\n",
           "pushgate_sshd_sessions 2\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST_F(ExporterTest, ControllerModeReportsTheCacheWithoutAskingTheController) {
  config_.mode = Mode::kController;
  config_.controller.url = "http://127.0.0.1:9";  // nothing listens: asking would fail or stall
  std::string text = RenderMetrics(config_);
  EXPECT_NE(text.find("pushgate_cache_age_seconds -1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pushgate_health 2\n"), std::string::npos) << text;  // no cache at all: down
}

TEST_F(ExporterTest, ServesGetMetrics) {
  Add(dir_.path(), Counter::kSyncOk, 9);
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(config_, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << "no answer";
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  EXPECT_NE(response->body.find("pushgate_syncs_total{result=\"ok\"} 9\n"), std::string::npos) << response->body;
  auto other = client.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
}

TEST_F(ExporterTest, NoAddressServesNothing) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(config_, "");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(*server, nullptr);
}

TEST_F(ExporterTest, BadListenAddressesAreRefused) {
  for (const char* listen : {"9464", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http", "host:1:x"}) {
    Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(config_, listen);
    EXPECT_FALSE(server.ok()) << listen;
  }
  Result<std::unique_ptr<MetricsServer>> first = MetricsServer::Start(config_, "127.0.0.1:0");
  ASSERT_TRUE(first.ok());
  Result<std::unique_ptr<MetricsServer>> taken =
      MetricsServer::Start(config_, "127.0.0.1:" + std::to_string((*first)->port()));
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("cannot listen on"), std::string::npos);
}

}  // namespace
}  // namespace pushgate::metrics
