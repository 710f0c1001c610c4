// A fake platform controller for tests and benchmarks: the Workflow/Drycc
// hooks API and pushgate's delta feed, served over HTTP or HTTPS on a
// loopback port from an in-process thread, with faults on demand.
//
// State changes (keys, apps) append to a change log with increasing
// revisions, which the delta feed serves. Compact() drops history the way a
// real controller with limited retention would: it keeps each live key's
// latest put, so older `since` values get 410 Gone, except snapshot
// continuations (snapshot=1), which walk the compacted history. All methods
// are thread-safe.
#ifndef PUSHGATE_TESTS_FAKE_CONTROLLER_FAKE_CONTROLLER_H_
#define PUSHGATE_TESTS_FAKE_CONTROLLER_FAKE_CONTROLLER_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "util/duration.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace pushgate::testing {

class FakeController {
 public:
  struct Options {
    std::string token = "test-token";
    std::string auth_header = "X-Deis-Builder-Auth";  // "Authorization" expects "Bearer TOKEN"
    bool delta_feed = true;
    bool honor_snapshot = true;  // false: 410 snapshot continuations too (a non-conforming controller)
    std::string tls_cert;  // PEM files: serve HTTPS when set
    std::string tls_key;
  };

  enum class Fault {
    kServerError,    // 503
    kLatency,        // answer after `latency`
    kTruncated,      // a 200 with half of the JSON
    kMalformed,      // a 200 that is not JSON
    kWrongTypes,     // a 200 with the right fields of the wrong types
    kDuplicateKeys,  // a 200 with a key repeated in an object
    kDeepNesting,    // a 200 nested thousands of levels deep
    kReset,          // the connection closes halfway through the body
    kHuge,           // a 200 larger than any answer pushgate accepts
    kHugeChunked,    // a 2 MB 200 without Content-Length (chunked)
    kSlowloris,      // a 200 sent one byte at a time, slower than any timeout
    kGone,           // 410 (delta feed)
    kBackwards,      // a delta page whose revision is lower than `since`
  };

  explicit FakeController(Options options);
  FakeController() : FakeController(Options()) {}
  ~FakeController();

  std::string url() const;
  int port() const { return port_; }
  // Stop refuses connections until Start (same port): "the controller is down".
  void Stop();
  void Start();

  // Keys are "TYPE BASE64 [COMMENT]" lines; fingerprints come from libssh.
  // Returns the SHA256 fingerprint.
  std::string AddKey(const std::string& user, const std::string& line);
  // Many keys at once (parsed on all cores), for benchmarks.
  void AddKeys(const std::string& user, const std::vector<std::string>& lines);
  // Appends a put whose fingerprint and key do not match, as a buggy or
  // hostile controller might; returns its revision.
  uint64_t AddRawChange(const std::string& op, const std::string& fingerprint, const std::string& user,
                        const std::string& key);
  void RemoveKey(const std::string& sha256_fingerprint);
  void AddApp(const std::string& app, const std::set<std::string>& members);
  void RemoveApp(const std::string& app);
  void SetDeltaFeed(bool enabled);
  // Forgets history up to the current revision: since=0 still works, any
  // other older `since` gets 410.
  void Compact();

  uint64_t revision() const;
  // The live key set: SHA256 fingerprint -> "user key-line".
  std::map<std::string, std::string> Keys() const;

  // The next `count` requests whose path starts with `path_prefix` get `fault`.
  void InjectFault(const std::string& path_prefix, Fault fault, int count = 1,
                   Duration latency = std::chrono::seconds(0));
  void ClearFaults();
  // Requests served so far whose path starts with `path_prefix`.
  int Requests(const std::string& path_prefix) const;

 private:
  struct KeyEntry {
    std::string user;
    std::string line;
    std::string md5;
  };
  struct Change {
    uint64_t revision;
    bool put;
    std::string fingerprint;
    std::string user;
    std::string line;
  };
  struct PendingFault {
    std::string prefix;
    Fault fault;
    int remaining;
    Duration latency;
  };

  void Serve();
  // Counts the request and checks its token (401 if wrong).
  bool Admit(const httplib::Request& req, httplib::Response& res);
  // Applies a pending fault to `res`; true if the fault replaced the answer.
  bool ApplyFault(const std::string& path, httplib::Response& res, const std::string& good_body);
  void HandleFeed(const httplib::Request& req, httplib::Response& res);
  void HandleKeyOwner(const httplib::Request& req, httplib::Response& res);
  void HandleAppKeys(const httplib::Request& req, httplib::Response& res);
  void PutLocked(const std::string& user, const std::string& line, const std::string& sha256, const std::string& md5);

  Options options_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::map<std::string, KeyEntry> keys_;
  std::map<std::string, std::string> md5_to_sha256_;
  std::map<std::string, std::set<std::string>> apps_;
  std::vector<Change> log_;
  uint64_t revision_ = 0;
  uint64_t compacted_upto_ = 0;
  std::vector<PendingFault> faults_;
  std::map<std::string, int> requests_;
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_FAKE_CONTROLLER_FAKE_CONTROLLER_H_
