// A fake platform controller for tests and benchmarks: the Workflow/Drycc
// hooks API, pushgate's delta feed and the build API, served over HTTP or
// HTTPS on a loopback port from an in-process thread, with faults on demand.
//
// Where the real (teamhephy) controller has quirks, the fake has them too
// (../shared/workflow-controller runs the real one; its README lists them):
// the token is checked before anything else (401, WWW-Authenticate: Token);
// GET /v2/hooks/key/{fp} lists every app of the cluster; GET
// /v2/hooks/keys/{app} lists only users granted access (not the owner);
// GET /v2/hooks/keys/{app}/{user} routes only names of [-_A-Za-z0-9] and
// answers {"detail": "No Keys match the given query."} for a user without
// keys; the API's 404s are bare JSON strings ("No App matches the given
// query."), a route it does not have is Django's HTML 404 page; a key
// registered to two users makes the key lookup a 500. With Options::Stock()
// pushgate's extensions (delta feed, app lookup, build API) are gone, as on
// a stock controller; with drycc_permissions, viewers may GET but not POST.
//
// Builds follow a script (SetBuildScript): log text released over time and
// an outcome, decided by the clock rather than by threads, so a build "runs"
// while the test does other things.
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

#include "tests/feed_model/delta_feed.h"
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
    bool app_lookup = true;  // false: 404 to POST /v2/hooks/apps/lookup (a Workflow controller)
    bool build_api = true;   // false: pushgate's build API routes do not exist
    // Drycc 1.12 on: GET /v2/hooks/keys/{app}/{user} answers viewers too,
    // while POST /v2/hooks/config and /v2/hooks/build need change permission.
    bool drycc_permissions = false;
    bool honor_snapshot = true;  // false: 410 snapshot continuations too (a non-conforming controller)
    int threads = 8;       // requests served at once (log streams each hold one)
    // Where to listen; a container test binds the address its containers
    // reach the host at.
    std::string bind_address = "127.0.0.1";
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
    kConflict,       // 409 {"detail": ...} (build request)
    kQuota,          // 429 with Retry-After: 120 (build request)
    kForbidden,      // 403 {"detail": "You do not have permission to perform this action."}
    kNoSuchApp,      // 404 "No App matches the given query."
    kBadRequest,     // 400 {"detail": "the body does not match its digest"}
  };

  // What builds created from now on do.
  struct BuildScript {
    // Log text, each part released `delay` after the previous one.
    struct Part {
      Duration delay;
      std::string text;
    };
    std::vector<Part> log = {{Duration(0), "-----> Compiling\n"}, {Duration(0), "       done\n"}};
    // "succeeded", "failed" or "cancelled" once the log is out; empty: the
    // build never ends.
    std::string outcome = "succeeded";
    std::string message;
  };

  struct BuildRecord {
    std::string id, app, username, sha, ref, source, request_id;
    std::string request_id_header;  // X-Request-Id
    bool cancelled = false;         // POST /v2/hooks/builds/{id}/cancel stopped it
    std::string push_options;       // the request's "push_options" array, as sent
  };

  // A stock Deis Workflow / Hephy controller: none of pushgate's extensions.
  static Options Stock() {
    Options options;
    options.delta_feed = false;
    options.app_lookup = false;
    options.build_api = false;
    return options;
  }

  // What POST /v2/hooks/build received (the stock builder's release call).
  struct WorkflowBuildRecord {
    std::string username, app, sha, image, dockerfile;
    std::map<std::string, std::string> procfile;
    int64_t release = 0;
  };

  explicit FakeController(Options options);
  FakeController() : FakeController(Options()) {}
  ~FakeController();

  std::string url() const;
  int port() const { return port_; }  // 0 if it could not bind options.bind_address
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
  // `members` are the app's collaborators (users granted access); the
  // owner, if set, may use the app but is not listed by GET keys/{app}.
  void AddApp(const std::string& app, const std::set<std::string>& members, const std::string& owner = "");
  void RemoveApp(const std::string& app);
  void Grant(const std::string& app, const std::string& user);
  void Revoke(const std::string& app, const std::string& user);
  // drycc_permissions: a user who may view the app but not change it.
  void AddViewer(const std::string& app, const std::string& user);
  // A user who exists without keys or apps.
  void AddUser(const std::string& user);
  // The same key registered to a second user (a broken controller database).
  void AddDuplicateKey(const std::string& user, const std::string& line);
  // The app's config values, as POST /v2/hooks/config returns them.
  void SetConfig(const std::string& app, const std::map<std::string, std::string>& values);
  // The latest release made through POST /v2/hooks/build (an app is created
  // with v1, as on Workflow).
  int64_t Release(const std::string& app) const;
  std::vector<WorkflowBuildRecord> WorkflowBuilds() const;
  void SetDeltaFeed(bool enabled);
  // Forgets history up to the current revision: since=0 still works, any
  // other older `since` gets 410.
  void Compact();

  void SetBuildScript(BuildScript script);
  // Serves the build API without POST /v2/hooks/builds/{id}/cancel (a
  // controller from before the route), as Django's HTML 404.
  void RemoveCancelRoute();
  // The builder key the controller expects from now on (a rotated token).
  void SetToken(const std::string& token);
  std::vector<BuildRecord> Builds() const;
  // Source archives received by digest ("sha256:<hex>"); the bytes are kept
  // for archives up to 16 MB (larger ones only count).
  bool HasSource(const std::string& digest) const;
  std::string Source(const std::string& digest) const;
  int SourceUploads() const;
  // The next `count` log streams hang up (no terminating chunk) after
  // sending `after_bytes` bytes; with `clean`, they end properly there
  // instead, as a proxy cutting a long answer short may.
  void DropLogStreams(size_t after_bytes, int count, bool clean = false);
  // The next `count` log requests with an offset above 0 get 503.
  void FailResumedLogStreams(int count);

  uint64_t revision() const;
  // The live key set: SHA256 fingerprint -> "user key-line".
  std::map<std::string, std::string> Keys() const;

  // The next `count` requests whose path starts with `path_prefix`, after
  // the next `skip` of them, get `fault`.
  void InjectFault(const std::string& path_prefix, Fault fault, int count = 1,
                   Duration latency = std::chrono::seconds(0), int skip = 0);
  void ClearFaults();
  // Requests served so far whose path starts with `path_prefix`.
  int Requests(const std::string& path_prefix) const;
  // The X-Request-Id of the last request to exactly `path` ("" if none).
  std::string LastRequestId(const std::string& path) const;

 private:
  struct KeyEntry {
    std::string user;
    std::string line;
    std::string md5;
  };
  struct Build {
    BuildRecord record;
    BuildScript script;
    std::chrono::steady_clock::time_point created;
    int64_t release = 0;
    std::string log_at_cancel;  // what the log was when it was cancelled
  };
  // The log released so far and whether the build has ended, at `now`.
  static std::string ReleasedLog(const Build& build, std::chrono::steady_clock::time_point now, bool* ended);
  struct PendingFault {
    std::string prefix;
    Fault fault;
    int remaining;
    Duration latency;
    int skip;
  };

  void Serve();
  // Counts the request and checks its token (401 if wrong).
  bool Admit(const httplib::Request& req, httplib::Response& res);
  // Applies a pending fault to `res`; true if the fault replaced the answer.
  bool ApplyFault(const std::string& path, httplib::Response& res, const std::string& good_body);
  void HandleFeed(const httplib::Request& req, httplib::Response& res);
  void HandleKeyOwner(const httplib::Request& req, httplib::Response& res);
  void HandleAppKeys(const httplib::Request& req, httplib::Response& res);
  void HandleSourceHead(const httplib::Request& req, httplib::Response& res);
  void HandleAppLookup(const httplib::Request& req, httplib::Response& res);
  void HandleBuildCreate(const httplib::Request& req, httplib::Response& res);
  void HandleBuildState(const httplib::Request& req, httplib::Response& res);
  void HandleBuildLog(const httplib::Request& req, httplib::Response& res);
  void HandleBuildCancel(const httplib::Request& req, httplib::Response& res);
  void HandleConfigHook(const httplib::Request& req, httplib::Response& res);
  void HandleBuildHook(const httplib::Request& req, httplib::Response& res);
  // Workflow's is_app_user, for the user and app of a hook request: 0 if
  // allowed, else the status to answer (403, 404), with its body in `body`.
  int AppUserCheckLocked(const std::string& app, const std::string& user, bool write, std::string* body) const;
  bool UserExistsLocked(const std::string& user) const;
  void PutLocked(const std::string& user, const std::string& line, const std::string& sha256, const std::string& md5);

  Options options_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::map<std::string, KeyEntry> keys_;
  std::map<std::string, std::string> md5_to_sha256_;
  std::map<std::string, std::set<std::string>> apps_;  // app -> collaborators
  std::map<std::string, std::string> owners_;
  std::map<std::string, std::set<std::string>> viewers_;
  std::set<std::string> users_;
  std::set<std::string> duplicate_md5_;
  std::map<std::string, std::map<std::string, std::string>> configs_;
  std::vector<WorkflowBuildRecord> workflow_builds_;
  std::map<std::string, int64_t> workflow_releases_;  // app -> release version (v1 at creation)
  DeltaFeed feed_;  // the keys' history, for the delta feed
  std::vector<PendingFault> faults_;
  std::map<std::string, int> requests_;
  std::map<std::string, std::string> request_ids_;
  BuildScript script_;
  bool cancel_route_ = true;
  std::map<std::string, Build> builds_;
  std::vector<std::string> build_order_;
  std::map<std::string, int64_t> releases_;  // app -> last release version
  std::map<std::string, std::string> sources_;
  int source_uploads_ = 0;
  size_t drop_after_ = 0;
  int drops_ = 0;
  bool drop_clean_ = false;
  int failed_resumes_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_FAKE_CONTROLLER_FAKE_CONTROLLER_H_
