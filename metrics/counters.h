// Counters every pushgate process adds to, shared through one small file in
// data_dir (data_dir/metrics): a fixed array of 64-bit counters, mapped and
// incremented atomically, so short-lived processes (the forced shell, the
// hook, the keys helper's slow paths) count without a daemon and the
// exporter reads them whenever it is scraped.
//
// The keys helper's hit path never calls this: a hit is counted by the
// forced shell when the session it authorized starts, so that path stays
// read-only (docs/operations.md, "Metrics").
//
// Counting never fails the caller: a missing or unwritable file only loses
// the count.
#ifndef PUSHGATE_METRICS_COUNTERS_H_
#define PUSHGATE_METRICS_COUNTERS_H_

#include <array>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace pushgate::metrics {

enum class Counter : uint32_t {
  kKeyHit,       // a session started with a key the helper matched
  kKeyMiss,      // the key was not cached: the helper asked the controller
  kKeyStale,     // the cached answer was too old: the helper refreshed it
  kKeyDenied,    // the helper matched no user
  kSessionPush,  // pushgate-shell started git-receive-pack
  kSessionFetch,
  kSessionRefused,  // bad command, unknown app, no access, draining
  kPushDeployed,
  kPushBuildFailed,
  kPushRejected,  // refused before a build: ref rules, unreadable commit
  kPushError,     // pushgate or the platform failed, or the pusher left
  kBuildSucceeded,
  kBuildFailed,
  kBuildError,  // timed out, interrupted, could not run
  kSyncOk,
  kSyncError,
  kReaperRunOk,
  kReaperRunError,
  kReaperRunBreaker,
  kReaperReposRemoved,
  // pushgate-sshd's connections: accepted, and refused by reason.
  kSshdAccepted,
  kSshdRefusedFull,             // sshd.max_connections reached
  kSshdRefusedUnauthenticated,  // sshd.max_unauthenticated reached
  kSshdRefusedProxy,            // a PROXY header missing, broken or untrusted
  kSshdRefusedUserLimit,        // sshd.max_sessions_per_user or _per_minute
  kSshdLoginTimeout,            // not authenticated within sshd.login_grace_time
  kSshdAuthFailed,              // left or cut off without authenticating
  kSessionCommand,              // a pusher command ran (info, releases, rollback, logs)
  kRollback,                    // a rollback switched an app's current release
  kCount
};

enum class Histogram : uint32_t {
  kPushSeconds,
  kBuildSeconds,
  kSyncSeconds,
  kSshdHandshakeSeconds,  // TCP accept to keys exchanged
  kSshdAuthSeconds,       // keys exchanged to authenticated
  kCount
};

// Values one process owns and sets (pushgate-sshd's listener), not adds to.
enum class Gauge : uint32_t {
  kSshdUnauthenticated,
  kSshdUnauthenticatedLimit,
  kSshdConnections,
  kSshdSessions,  // authenticated connections
  kCount
};

// Upper bounds of the histogram buckets, in seconds (the last is +Inf).
inline constexpr std::array<double, 11> kBucketBounds = {0.05, 0.25, 1, 5, 15, 30, 60, 120, 300, 900, 1800};

struct HistogramData {
  std::array<uint64_t, kBucketBounds.size() + 1> buckets{};  // not cumulative; last: above every bound
  uint64_t sum_us = 0;
  uint64_t Count() const;
};

struct Snapshot {
  std::array<uint64_t, static_cast<size_t>(Counter::kCount)> counters{};
  std::array<HistogramData, static_cast<size_t>(Histogram::kCount)> histograms{};
  std::array<int64_t, static_cast<size_t>(Gauge::kCount)> gauges{};
  uint64_t Get(Counter c) const { return counters[static_cast<size_t>(c)]; }
  int64_t Get(Gauge g) const { return gauges[static_cast<size_t>(g)]; }
  const HistogramData& Get(Histogram h) const { return histograms[static_cast<size_t>(h)]; }
};

void Add(const std::string& data_dir, Counter counter, uint64_t n = 1);
void Observe(const std::string& data_dir, Histogram histogram, double seconds);
void Set(const std::string& data_dir, Gauge gauge, int64_t value);

// All counters as they are now (zeros if nothing has counted yet).
Result<Snapshot> ReadCounters(const std::string& data_dir);

}  // namespace pushgate::metrics

#endif  // PUSHGATE_METRICS_COUNTERS_H_
