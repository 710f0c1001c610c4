#include "tests/fake_controller/fake_controller.h"

#include <httplib.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <regex>

#include "sshkey/sshkey.h"
#include "util/json_writer.h"
#include "util/sha256.h"

namespace pushgate::testing {
namespace {

constexpr const char* kJson = "application/json";

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string KeyListJson(const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& lists) {
  std::string out = "{";
  bool first_user = true;
  for (const auto& [user, keys] : lists) {
    if (!first_user) out += ",";
    first_user = false;
    out += Quoted(user) + ":[";
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) out += ",";
      out += "{\"key\":" + Quoted(keys[i].first) + ",\"fingerprint\":" + Quoted(keys[i].second) + "}";
    }
    out += "]";
  }
  return out + "}";
}

constexpr size_t kKeptSourceBytes = 16 << 20;

std::string Detail(std::string_view text) { return "{\"detail\":" + Quoted(text) + "}"; }

// Django REST framework's 404 for get_object_or_404: a bare JSON string.
void NotFound(httplib::Response& res, std::string_view what) {
  res.status = 404;
  res.set_content(Quoted("No " + std::string(what) + " matches the given query."), kJson);
}

// Django's page for a path no route matches (DEBUG off).
constexpr const char* kDjangoNotFoundPage =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n"
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n";

// Workflow's username route: ^hooks/keys/(?P<id>...)/(?P<username>[-_\w]+)?$
bool RoutedUserName(const std::string& user) {
  return std::all_of(user.begin(), user.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Workflow's PROCTYPE_MATCH.
bool IsProcType(const std::string& type) { return std::regex_match(type, std::regex("^[a-z0-9]+(-[a-z0-9]+)*$")); }

// A string field of a flat JSON object, good enough for the requests pushgate
// sends (no escapes in the values it sends).
std::string Field(const std::string& body, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"");
  return std::regex_search(body, m, re) ? m[1].str() : "";
}

struct Sha256Hasher {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Sha256Hasher() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~Sha256Hasher() { EVP_MD_CTX_free(ctx); }
  void Update(const char* data, size_t n) { EVP_DigestUpdate(ctx, data, n); }
  std::string Hex() {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, digest, &len);
    return LowerHex(std::string_view(reinterpret_cast<const char*>(digest), len));
  }
};

}  // namespace

FakeController::FakeController(Options options) : options_(std::move(options)) { Start(); }

FakeController::~FakeController() { Stop(); }

std::string FakeController::url() const {
  return std::string(options_.tls_cert.empty() ? "http" : "https") + "://" + options_.bind_address + ":" +
         std::to_string(port_);
}

void FakeController::Start() {
  if (server_) return;
  if (options_.tls_cert.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
  }
  server_->new_task_queue = [threads = options_.threads] { return new httplib::ThreadPool(threads); };
  Serve();
  if (port_ == 0) {
    port_ = server_->bind_to_any_port(options_.bind_address);
    if (port_ <= 0) {  // an address this machine does not have: port() stays 0
      port_ = 0;
      server_.reset();
      return;
    }
  } else {
    for (int attempt = 0; attempt < 100 && !server_->bind_to_port(options_.bind_address, port_); ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void FakeController::Stop() {
  if (!server_) return;
  stopping_ = true;  // ends log streams held open
  server_->stop();
  thread_.join();
  server_.reset();
  stopping_ = false;
}

void FakeController::Serve() {
  // As production HTTP servers do: without it, an answer written in two
  // parts waits for the client's delayed ACK (40 ms on Linux).
  server_->set_tcp_nodelay(true);
  // Answer uncompressed whatever the client accepts: compressing 70 MB fault
  // bodies or million-key pages would measure httplib, not pushgate.
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Anything left without an answer is a route Django would not have.
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404 && res.body.empty() && !res.has_header("Content-Type")) {
      res.set_content(kDjangoNotFoundPage, "text/html");
    }
  });
  server_->Get("/v2/hooks/keys", [this](const httplib::Request& req, httplib::Response& res) { HandleFeed(req, res); });
  server_->Post("/v2/hooks/config",
                [this](const httplib::Request& req, httplib::Response& res) { HandleConfigHook(req, res); });
  server_->Post("/v2/hooks/build",
                [this](const httplib::Request& req, httplib::Response& res) { HandleBuildHook(req, res); });
  server_->Get(R"(/v2/hooks/key/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) { HandleKeyOwner(req, res); });
  server_->Get(R"(/v2/hooks/keys/([^/]+)(/([^/]+))?)",
               [this](const httplib::Request& req, httplib::Response& res) { HandleAppKeys(req, res); });
  server_->Post("/v2/hooks/apps/lookup",
                [this](const httplib::Request& req, httplib::Response& res) { HandleAppLookup(req, res); });
  if (!options_.build_api) return;
  // GET routes answer HEAD too (without the body).
  server_->Get(R"(/v2/hooks/sources/(sha256:[0-9a-f]{64}))",
               [this](const httplib::Request& req, httplib::Response& res) { HandleSourceHead(req, res); });
  server_->Put(R"(/v2/hooks/sources/(sha256:[0-9a-f]{64}))",
               [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                 if (!Admit(req, res)) return;
                 std::string digest = req.matches[1];
                 Sha256Hasher hasher;
                 std::string kept;
                 size_t total = 0;
                 reader([&](const char* data, size_t n) {
                   hasher.Update(data, n);
                   total += n;
                   if (total <= kKeptSourceBytes) kept.append(data, n);
                   return true;
                 });
                 std::string actual = "sha256:" + hasher.Hex();
                 if (ApplyFault(req.path, res, "")) return;
                 if (actual != digest) {
                   res.status = 400;
                   res.set_content(Detail("the body's digest is " + actual + ", not " + digest), kJson);
                   return;
                 }
                 std::lock_guard<std::mutex> lock(mu_);
                 ++source_uploads_;
                 bool existed = sources_.count(digest) > 0;
                 sources_[digest] = total <= kKeptSourceBytes ? std::move(kept) : std::string();
                 res.status = existed ? 200 : 201;
               });
  server_->Post("/v2/hooks/builds",
                [this](const httplib::Request& req, httplib::Response& res) { HandleBuildCreate(req, res); });
  server_->Get(R"(/v2/hooks/builds/([A-Za-z0-9._-]+))",
               [this](const httplib::Request& req, httplib::Response& res) { HandleBuildState(req, res); });
  server_->Get(R"(/v2/hooks/builds/([A-Za-z0-9._-]+)/logs)",
               [this](const httplib::Request& req, httplib::Response& res) { HandleBuildLog(req, res); });
  server_->Post(R"(/v2/hooks/builds/([A-Za-z0-9._-]+)/cancel)",
                [this](const httplib::Request& req, httplib::Response& res) { HandleBuildCancel(req, res); });
}

void FakeController::HandleSourceHead(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  if (ApplyFault(req.path, res, "")) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!sources_.count(req.matches[1])) return NotFound(res, "Source");
  res.status = 200;
}

void FakeController::HandleAppLookup(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  if (!options_.app_lookup) {
    res.status = 404;  // no such route: Django's HTML page
    return;
  }
  if (ApplyFault(req.path, res, "")) return;
  std::string body = "{\"apps\":{";
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    static const std::regex kName("\"([a-z0-9-]+)\"");
    size_t list = req.body.find('[');
    for (auto it = std::sregex_iterator(req.body.begin() + static_cast<std::ptrdiff_t>(list == std::string::npos ? 0 : list),
                                        req.body.end(), kName);
         it != std::sregex_iterator(); ++it) {
      if (count++ > 0) body += ",";
      body += Quoted((*it)[1].str()) + (apps_.count((*it)[1].str()) ? ":true" : ":false");
    }
  }
  if (count > 1000) {
    res.status = 400;
    res.set_content(Detail("at most 1000 names per lookup"), kJson);
    return;
  }
  res.set_content(body + "}}", kJson);
}

void FakeController::HandleBuildCreate(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  if (ApplyFault(req.path, res, "")) return;
  BuildRecord record{"", Field(req.body, "app"), Field(req.body, "username"), Field(req.body, "sha"),
                     Field(req.body, "ref"), Field(req.body, "source"), Field(req.body, "request_id"),
                     req.get_header_value("X-Request-Id"), false, ""};
  static const std::regex kPushOptions("\"push_options\":(\\[[^\\]]*\\])");
  std::smatch options;
  if (std::regex_search(req.body, options, kPushOptions)) record.push_options = options[1].str();
  std::lock_guard<std::mutex> lock(mu_);
  auto app = apps_.find(record.app);
  if (app == apps_.end()) return NotFound(res, "App");
  if (!app->second.count(record.username)) {
    res.status = 403;
    res.set_content(Detail(record.username + " is not a member of " + record.app), kJson);
    return;
  }
  if (!sources_.count(record.source) || record.sha.size() != 40) {
    res.status = 400;
    res.set_content(Detail("unknown source or bad sha"), kJson);
    return;
  }
  record.id = "b-" + std::to_string(build_order_.size() + 1);
  Build build{record, script_, std::chrono::steady_clock::now(), 0, ""};
  if (script_.outcome == "succeeded") build.release = ++releases_[record.app];
  builds_[record.id] = build;
  build_order_.push_back(record.id);
  res.status = 201;
  res.set_content("{\"id\":" + Quoted(record.id) + "}", kJson);
}

std::string FakeController::ReleasedLog(const Build& build, std::chrono::steady_clock::time_point now, bool* ended) {
  std::string out;
  if (build.record.cancelled) {
    *ended = true;
    return build.log_at_cancel;
  }
  auto at = build.created;
  for (const BuildScript::Part& part : build.script.log) {
    at += part.delay;
    if (at > now) {
      *ended = false;
      return out;
    }
    out += part.text;
  }
  *ended = !build.script.outcome.empty();
  return out;
}

void FakeController::HandleBuildState(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  std::string body;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = builds_.find(req.matches[1]);
    if (it == builds_.end()) return NotFound(res, "Build");
    const Build& build = it->second;
    bool ended = false;
    ReleasedLog(build, std::chrono::steady_clock::now(), &ended);
    std::string state = build.record.cancelled ? "cancelled" : ended ? build.script.outcome : "running";
    bool released = ended && build.release > 0;
    body = "{\"id\":" + Quoted(build.record.id) + ",\"state\":" + Quoted(state) + ",\"message\":" +
           (ended && !build.script.message.empty() ? Quoted(build.script.message) : "null") + ",\"release\":" +
           (released ? "{\"version\":" + std::to_string(build.release) + "}" : "null") + "}";
  }
  if (ApplyFault(req.path, res, body)) return;
  res.set_content(body, kJson);
}

void FakeController::HandleBuildCancel(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  if (!options_.build_api) {
    res.status = 404;  // no such route: Django's HTML page
    return;
  }
  if (ApplyFault(req.path, res, "")) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!cancel_route_) {
    res.status = 404;
    res.set_content("<html><body>Not Found</body></html>", "text/html");
    return;
  }
  auto it = builds_.find(req.matches[1]);
  if (it == builds_.end()) return NotFound(res, "Build");
  Build& build = it->second;
  bool ended = false;
  std::string log = ReleasedLog(build, std::chrono::steady_clock::now(), &ended);
  if (ended) {
    res.status = 409;
    res.set_content("{\"detail\":\"the build has ended\"}", kJson);
    return;
  }
  build.log_at_cancel = log + "-----> cancelled\n";
  build.record.cancelled = true;
  res.status = 202;
  res.set_content("{\"id\":" + Quoted(build.record.id) + ",\"state\":\"cancelled\"}", kJson);
}

void FakeController::HandleBuildLog(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  std::string id = req.matches[1];
  size_t offset = req.has_param("offset") ? std::stoull(req.get_param_value("offset")) : 0;
  if (ApplyFault(req.path, res, "")) return;
  size_t drop_after = 0;
  bool clean = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!builds_.count(id)) return NotFound(res, "Build");
    if (offset > 0 && failed_resumes_ > 0) {
      --failed_resumes_;
      res.status = 503;
      return;
    }
    if (drops_ > 0) {
      --drops_;
      drop_after = drop_after_;
      clean = drop_clean_;
    }
  }
  res.set_chunked_content_provider("text/plain", [this, id, offset, drop_after, clean](size_t sent, httplib::DataSink& sink) {
    for (;;) {
      if (stopping_) return false;
      bool ended = false;
      std::string log;
      {
        std::lock_guard<std::mutex> lock(mu_);
        log = ReleasedLog(builds_.at(id), std::chrono::steady_clock::now(), &ended);
      }
      size_t from = offset + sent;
      if (from < log.size()) {
        size_t n = std::min<size_t>(log.size() - from, 64 << 10);
        if (drop_after > 0) {
          if (sent >= drop_after && clean) {
            sink.done();
            return true;
          }
          if (sent >= drop_after) return false;  // hang up, mid-line if it falls there
          n = std::min(n, drop_after - sent);
        }
        return sink.write(log.data() + from, n);
      }
      if (ended) {
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

bool FakeController::Admit(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[req.path];
    if (req.has_header("X-Request-Id")) request_ids_[req.path] = req.get_header_value("X-Request-Id");
  }
  std::string expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    expected = options_.token;
  }
  if (options_.auth_header == "Authorization") expected = "Bearer " + expected;
  if (req.get_header_value(options_.auth_header) == expected) return true;
  res.status = 401;
  res.set_header("WWW-Authenticate", "Token");
  res.set_content(Detail("Authentication credentials were not provided."), kJson);
  return false;
}

bool FakeController::ApplyFault(const std::string& path, httplib::Response& res, const std::string& good_body) {
  PendingFault fault;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(faults_.begin(), faults_.end(), [&](const PendingFault& f) {
      return f.remaining > 0 && path.rfind(f.prefix, 0) == 0;
    });
    if (it == faults_.end()) return false;
    if (it->skip > 0) {
      --it->skip;
      return false;
    }
    fault = *it;
    if (--it->remaining == 0) faults_.erase(it);
  }
  switch (fault.fault) {
    case Fault::kServerError: res.status = 503; res.set_content("{\"detail\":\"maintenance\"}", kJson); return true;
    case Fault::kGone: res.status = 410; return true;
    case Fault::kLatency: std::this_thread::sleep_for(fault.latency); return false;
    case Fault::kTruncated: res.set_content(good_body.substr(0, good_body.size() / 2), kJson); return true;
    case Fault::kMalformed: res.set_content("{this is not json", kJson); return true;
    case Fault::kWrongTypes:
      res.set_content("{\"revision\":\"7\",\"more\":\"no\",\"changes\":{},\"username\":42,\"apps\":\"x\"}", kJson);
      return true;
    case Fault::kDuplicateKeys:
      res.set_content("{\"revision\":1,\"revision\":2,\"more\":false,\"changes\":[],\"username\":\"a\",\"username\":\"b\"}",
                      kJson);
      return true;
    case Fault::kDeepNesting: res.set_content(std::string(5000, '[') + std::string(5000, ']'), kJson); return true;
    case Fault::kHuge:
      // Declared up front and produced as it is sent: the client must refuse
      // it from the Content-Length alone, at once, even under sanitizers.
      res.set_content_provider(70 << 20, kJson, [](size_t offset, size_t length, httplib::DataSink& sink) {
        std::string chunk(std::min<size_t>(length, 64 << 10), offset == 0 ? '[' : 'x');
        return sink.write(chunk.data(), chunk.size());
      });
      return true;
    case Fault::kHugeChunked:
      res.set_chunked_content_provider(kJson, [](size_t offset, httplib::DataSink& sink) {
        if (offset >= (2 << 20)) {
          sink.done();
          return true;
        }
        std::string chunk(64 << 10, 'x');
        return sink.write(chunk.data(), chunk.size());
      });
      return true;
    case Fault::kBackwards: res.set_content("{\"revision\":0,\"more\":false,\"changes\":[]}", kJson); return true;
    case Fault::kConflict:
      res.status = 409;
      res.set_content(Detail("build b-7 of this app is running"), kJson);
      return true;
    case Fault::kForbidden:
      res.status = 403;
      res.set_content(Detail("You do not have permission to perform this action."), kJson);
      return true;
    case Fault::kNoSuchApp: NotFound(res, "App"); return true;
    case Fault::kBadRequest:
      res.status = 400;
      res.set_content(Detail("the body does not match its digest"), kJson);
      return true;
    case Fault::kQuota:
      res.status = 429;
      res.set_header("Retry-After", "120");
      res.set_content(Detail("10 builds per hour"), kJson);
      return true;
    case Fault::kReset: {
      auto body = std::make_shared<std::string>(good_body.empty() ? std::string(1000, ' ') : good_body);
      res.set_content_provider(body->size() * 2, kJson,
                               [body](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset > 0) return false;  // hang up halfway
                                 sink.write(body->data(), body->size());
                                 return true;
                               });
      return true;
    }
    case Fault::kSlowloris:
      res.set_content_provider(1000, kJson, [](size_t, size_t, httplib::DataSink& sink) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return sink.write("[", 1);
      });
      return true;
  }
  return false;
}

void FakeController::HandleFeed(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  uint64_t since = req.has_param("since") ? std::stoull(req.get_param_value("since")) : 0;
  size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 1000;
  bool snapshot = req.has_param("snapshot") && req.get_param_value("snapshot") == "1";
  std::string body;
  int status = 200;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!options_.delta_feed) {
      status = 404;
    } else {
      FeedAnswer answer = feed_.Page(since, limit, snapshot && options_.honor_snapshot);
      if (answer.kind == FeedAnswer::Kind::kGone) {
        status = 410;
      } else {
        body = "{\"revision\":" + std::to_string(answer.page.revision) +
               ",\"more\":" + (answer.page.more ? "true" : "false") + ",\"changes\":[";
        for (const KeyChange& change : answer.page.changes) {
          if (body.back() != '[') body += ",";
          if (change.op == KeyChange::Op::kPut) {
            body += "{\"op\":\"put\",\"fingerprint\":" + Quoted(change.fingerprint) +
                    ",\"username\":" + Quoted(change.username) + ",\"key\":" + Quoted(change.key) + "}";
          } else {
            body += "{\"op\":\"delete\",\"fingerprint\":" + Quoted(change.fingerprint) + "}";
          }
        }
        body += "]}";
      }
    }
  }
  if (ApplyFault(req.path, res, body)) return;
  res.status = status;
  if (status == 200) res.set_content(body, kJson);
}

void FakeController::HandleKeyOwner(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  const std::string& path = req.path;
  std::string md5 = req.matches[1];
  std::string body;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (duplicate_md5_.count(md5)) {
      // get_object_or_404 finds two keys: MultipleObjectsReturned.
      res.status = 500;
      res.set_content("<h1>Server Error (500)</h1>", "text/html");
      return;
    }
    auto sha = md5_to_sha256_.find(md5);
    if (sha != md5_to_sha256_.end()) {
      const KeyEntry& entry = keys_.at(sha->second);
      // Every app of the cluster, whoever owns the key (the real query is
      // App.objects.all() | get_objects_for_user(...)).
      body = "{\"username\":" + Quoted(entry.user) + ",\"apps\":[";
      bool first = true;
      for (const auto& [app, members] : apps_) {
        body += (first ? "" : ",") + Quoted(app);
        first = false;
      }
      body += "]}";
    }
  }
  if (ApplyFault(path, res, body)) return;
  if (body.empty()) return NotFound(res, "Key");
  res.set_content(body, kJson);
}

void FakeController::HandleAppKeys(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  const std::string& path = req.path;
  std::string app = req.matches[1];
  std::string user = req.matches.size() > 3 ? std::string(req.matches[3]) : std::string();
  if (!RoutedUserName(user)) {
    res.status = 404;  // Workflow's URL pattern does not match: no route
    return;
  }
  int status = 200;
  std::string error_body;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> lists;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = apps_.find(app);
    if (it == apps_.end()) {
      status = 404;
      error_body = Quoted("No App matches the given query.");
    } else if (!user.empty()) {
      status = AppUserCheckLocked(app, user, false, &error_body);
      if (status == 0) {
        status = 200;
        for (const auto& [fp, entry] : keys_) {
          if (entry.user == user) lists[user].emplace_back(entry.line, entry.md5);
        }
        if (lists.empty()) {
          status = 404;
          error_body = Detail("No Keys match the given query.");
        }
      }
    } else {
      // Only users granted access are listed; the owner is not, unless granted.
      for (const auto& [fp, entry] : keys_) {
        if (it->second.count(entry.user) > 0) lists[entry.user].emplace_back(entry.line, entry.md5);
      }
    }
  }
  std::string body = status == 200 ? KeyListJson(lists) : "";
  if (ApplyFault(path, res, body)) return;
  res.status = status;
  res.set_content(status == 200 ? body : error_body, kJson);
}

bool FakeController::UserExistsLocked(const std::string& user) const {
  if (users_.count(user)) return true;
  for (const auto& [fp, entry] : keys_) {
    if (entry.user == user) return true;
  }
  for (const auto& [app, members] : apps_) {
    if (members.count(user)) return true;
  }
  for (const auto& [app, owner] : owners_) {
    if (owner == user) return true;
  }
  return false;
}

int FakeController::AppUserCheckLocked(const std::string& app, const std::string& user, bool write,
                                       std::string* body) const {
  if (!apps_.count(app)) {
    *body = Quoted("No App matches the given query.");
    return 404;
  }
  if (!UserExistsLocked(user)) {
    *body = Quoted("No User matches the given query.");
    return 404;
  }
  auto owner = owners_.find(app);
  bool allowed = apps_.at(app).count(user) > 0 || (owner != owners_.end() && owner->second == user);
  if (!allowed && options_.drycc_permissions && !write) {
    auto viewers = viewers_.find(app);
    allowed = viewers != viewers_.end() && viewers->second.count(user) > 0;
  }
  if (allowed) return 0;
  *body = Detail("You do not have permission to perform this action.");
  return 403;
}

void FakeController::HandleConfigHook(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  std::string app = Field(req.body, "receive_repo"), user = Field(req.body, "receive_user");
  std::string body;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int status = AppUserCheckLocked(app, user, true, &body);
    if (status == 0) {
      // The shape of Workflow's ConfigSerializer.
      JsonObject values;
      for (const auto& [k, v] : configs_[app]) values.Add(k, v);
      body = JsonObject()
                 .Add("owner", owners_.count(app) ? owners_.at(app) : user)
                 .Add("app", app)
                 .AddRaw("values", values.Finish())
                 .AddRaw("memory", "{}")
                 .AddRaw("cpu", "{}")
                 .AddRaw("tags", "{}")
                 .AddRaw("registry", "{}")
                 .AddRaw("healthcheck", "{}")
                 .AddRaw("routable", "true")
                 .Add("uuid", "5d5aa2b2-9c1e-4c54-8b5b-" + std::string(12, '0'))
                 .Finish();
    } else {
      res.status = status;
    }
  }
  if (ApplyFault(req.path, res, body)) return;
  res.set_content(body, kJson);
}

void FakeController::HandleBuildHook(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  if (ApplyFault(req.path, res, "")) return;
  WorkflowBuildRecord record{Field(req.body, "receive_user"), Field(req.body, "receive_repo"), Field(req.body, "sha"),
                             Field(req.body, "image"), Field(req.body, "dockerfile"), {}, 0};
  // "procfile": {"web": "...", ...}: string values without escapes.
  std::smatch procfile;
  if (std::regex_search(req.body, procfile, std::regex("\"procfile\"\\s*:\\s*\\{([^}]*)\\}"))) {
    std::string inner = procfile[1].str();
    std::regex pair("\"([^\"]*)\"\\s*:\\s*\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(inner.begin(), inner.end(), pair); it != std::sregex_iterator(); ++it) {
      record.procfile[(*it)[1].str()] = (*it)[2].str();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string body;
  int status = AppUserCheckLocked(record.app, record.username, true, &body);
  if (status != 0) {
    res.status = status;
    res.set_content(body, kJson);
    return;
  }
  for (const auto& [type, command] : record.procfile) {
    if (!IsProcType(type)) {
      res.status = 400;
      res.set_content("{\"procfile\":[\"Process types can only contain lowercase alphanumeric characters\"]}", kJson);
      return;
    }
  }
  if (record.image.empty()) {
    res.status = 400;
    res.set_content("{\"image\":[\"This field may not be blank.\"]}", kJson);
    return;
  }
  record.release = ++workflow_releases_[record.app];
  workflow_builds_.push_back(record);
  res.set_content("{\"release\":{\"version\":" + std::to_string(record.release) + "}}", kJson);
}

void FakeController::PutLocked(const std::string& user, const std::string& line, const std::string& sha256,
                               const std::string& md5) {
  auto old = keys_.find(sha256);
  if (old != keys_.end()) md5_to_sha256_.erase(old->second.md5);
  keys_[sha256] = KeyEntry{user, line, md5};
  md5_to_sha256_[md5] = sha256;
  feed_.Put(sha256, user, line);
}

std::string FakeController::AddKey(const std::string& user, const std::string& line) {
  Result<PublicKey> key = ParsePublicKeyLine(line);
  if (!key.ok()) return "";
  Result<std::string> md5 = Md5Fingerprint(*key);
  if (!md5.ok()) return "";
  std::lock_guard<std::mutex> lock(mu_);
  PutLocked(user, line, key->sha256_fingerprint, *md5);
  return key->sha256_fingerprint;
}

void FakeController::AddKeys(const std::string& user, const std::vector<std::string>& lines) {
  ParsedKeys parsed = ParsePublicKeyLines(lines);
  std::vector<std::string> md5s(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!parsed.errors[i].ok()) continue;
    Result<std::string> md5 = Md5Fingerprint(parsed.keys[i]);
    if (md5.ok()) md5s[i] = *md5;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!md5s[i].empty()) PutLocked(user, lines[i], parsed.keys[i].sha256_fingerprint, md5s[i]);
  }
}

uint64_t FakeController::AddRawChange(const std::string& op, const std::string& fingerprint, const std::string& user,
                                      const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return feed_.AppendRaw(op == "put", fingerprint, user, key);
}

void FakeController::RemoveKey(const std::string& sha256_fingerprint) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(sha256_fingerprint);
  if (it == keys_.end()) return;
  md5_to_sha256_.erase(it->second.md5);
  keys_.erase(it);
  feed_.Delete(sha256_fingerprint);
}

void FakeController::AddApp(const std::string& app, const std::set<std::string>& members, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app] = members;
  if (!owner.empty()) owners_[app] = owner;
  workflow_releases_[app] = 1;
}

void FakeController::RemoveApp(const std::string& app) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_.erase(app);
  owners_.erase(app);
  viewers_.erase(app);
  configs_.erase(app);
}

void FakeController::Grant(const std::string& app, const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app].insert(user);
}

void FakeController::Revoke(const std::string& app, const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app].erase(user);
}

void FakeController::AddViewer(const std::string& app, const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  viewers_[app].insert(user);
  users_.insert(user);
}

void FakeController::AddUser(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  users_.insert(user);
}

void FakeController::AddDuplicateKey(const std::string& user, const std::string& line) {
  Result<PublicKey> key = ParsePublicKeyLine(line);
  if (!key.ok()) return;
  Result<std::string> md5 = Md5Fingerprint(*key);
  if (!md5.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  users_.insert(user);
  duplicate_md5_.insert(*md5);
}

void FakeController::SetConfig(const std::string& app, const std::map<std::string, std::string>& values) {
  std::lock_guard<std::mutex> lock(mu_);
  configs_[app] = values;
}

int64_t FakeController::Release(const std::string& app) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workflow_releases_.find(app);
  return it == workflow_releases_.end() ? 0 : it->second;
}

std::vector<FakeController::WorkflowBuildRecord> FakeController::WorkflowBuilds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workflow_builds_;
}

void FakeController::SetDeltaFeed(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.delta_feed = enabled;
}

void FakeController::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  feed_.Compact();
}

void FakeController::SetToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.token = token;
}

void FakeController::SetBuildScript(BuildScript script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

void FakeController::RemoveCancelRoute() {
  std::lock_guard<std::mutex> lock(mu_);
  cancel_route_ = false;
}

std::vector<FakeController::BuildRecord> FakeController::Builds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<BuildRecord> out;
  for (const std::string& id : build_order_) out.push_back(builds_.at(id).record);
  return out;
}

bool FakeController::HasSource(const std::string& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  return sources_.count(digest) > 0;
}

std::string FakeController::Source(const std::string& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sources_.find(digest);
  return it == sources_.end() ? "" : it->second;
}

int FakeController::SourceUploads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return source_uploads_;
}

void FakeController::DropLogStreams(size_t after_bytes, int count, bool clean) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_after_ = after_bytes;
  drops_ = count;
  drop_clean_ = clean;
}

void FakeController::FailResumedLogStreams(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  failed_resumes_ = count;
}

uint64_t FakeController::revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return feed_.revision();
}

std::map<std::string, std::string> FakeController::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [fp, entry] : keys_) out[fp] = entry.user + " " + entry.line;
  return out;
}

void FakeController::InjectFault(const std::string& path_prefix, Fault fault, int count, Duration latency, int skip) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(PendingFault{path_prefix, fault, count, latency, skip});
}

void FakeController::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

std::string FakeController::LastRequestId(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = request_ids_.find(path);
  return it == request_ids_.end() ? "" : it->second;
}

int FakeController::Requests(const std::string& path_prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [path, count] : requests_) {
    if (path.rfind(path_prefix, 0) == 0) n += count;
  }
  return n;
}

}  // namespace pushgate::testing
