#include "tests/fake_controller/fake_controller.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "sshkey/sshkey.h"
#include "util/json_writer.h"

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

}  // namespace

FakeController::FakeController(Options options) : options_(std::move(options)) { Start(); }

FakeController::~FakeController() { Stop(); }

std::string FakeController::url() const {
  return std::string(options_.tls_cert.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_);
}

void FakeController::Start() {
  if (server_) return;
  if (options_.tls_cert.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
  }
  Serve();
  if (port_ == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    for (int attempt = 0; attempt < 100 && !server_->bind_to_port("127.0.0.1", port_); ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void FakeController::Stop() {
  if (!server_) return;
  server_->stop();
  thread_.join();
  server_.reset();
}

void FakeController::Serve() {
  // Answer uncompressed whatever the client accepts: compressing 70 MB fault
  // bodies or million-key pages would measure httplib, not pushgate.
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_->Get("/v2/hooks/keys", [this](const httplib::Request& req, httplib::Response& res) { HandleFeed(req, res); });
  server_->Get(R"(/v2/hooks/key/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) { HandleKeyOwner(req, res); });
  server_->Get(R"(/v2/hooks/keys/([^/]+)(/([^/]+))?)",
               [this](const httplib::Request& req, httplib::Response& res) { HandleAppKeys(req, res); });
}

bool FakeController::Admit(const httplib::Request& req, httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[req.path];
  }
  std::string expected = options_.token;
  if (options_.auth_header == "Authorization") expected = "Bearer " + expected;
  if (req.get_header_value(options_.auth_header) == expected) return true;
  res.status = 401;
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
    case Fault::kHuge: res.set_content("[\"" + std::string(70 << 20, 'x') + "\"]", kJson); return true;
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
    } else if (since != 0 && since < compacted_upto_ && !(snapshot && options_.honor_snapshot)) {
      status = 410;
    } else {
      auto first = std::upper_bound(log_.begin(), log_.end(), since,
                                    [](uint64_t s, const Change& c) { return s < c.revision; });
      auto last = first + static_cast<std::ptrdiff_t>(std::min<size_t>(limit, log_.end() - first));
      uint64_t page_revision = last == first ? std::max(revision_, since) : (last - 1)->revision;
      body = "{\"revision\":" + std::to_string(page_revision) + ",\"more\":" + (last != log_.end() ? "true" : "false") +
             ",\"changes\":[";
      for (auto it = first; it != last; ++it) {
        if (it != first) body += ",";
        if (it->put) {
          body += "{\"op\":\"put\",\"fingerprint\":" + Quoted(it->fingerprint) + ",\"username\":" + Quoted(it->user) +
                  ",\"key\":" + Quoted(it->line) + "}";
        } else {
          body += "{\"op\":\"delete\",\"fingerprint\":" + Quoted(it->fingerprint) + "}";
        }
      }
      body += "]}";
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
    auto sha = md5_to_sha256_.find(md5);
    if (sha != md5_to_sha256_.end()) {
      const KeyEntry& entry = keys_.at(sha->second);
      body = "{\"username\":" + Quoted(entry.user) + ",\"apps\":[";
      bool first = true;
      for (const auto& [app, members] : apps_) {
        if (!members.count(entry.user)) continue;
        body += (first ? "" : ",") + Quoted(app);
        first = false;
      }
      body += "]}";
    }
  }
  if (ApplyFault(path, res, body)) return;
  if (body.empty()) {
    res.status = 404;
    return;
  }
  res.set_content(body, kJson);
}

void FakeController::HandleAppKeys(const httplib::Request& req, httplib::Response& res) {
  if (!Admit(req, res)) return;
  const std::string& path = req.path;
  std::string app = req.matches[1];
  std::string user = req.matches.size() > 3 ? std::string(req.matches[3]) : std::string();
  int status = 200;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> lists;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = apps_.find(app);
    if (it == apps_.end()) {
      status = 404;
    } else if (!user.empty() && !it->second.count(user)) {
      bool known = std::any_of(keys_.begin(), keys_.end(), [&](const auto& kv) { return kv.second.user == user; });
      status = known ? 403 : 404;
    } else {
      for (const auto& [fp, entry] : keys_) {
        if (user.empty() ? it->second.count(entry.user) > 0 : entry.user == user) {
          lists[entry.user].emplace_back(entry.line, entry.md5);
        }
      }
      if (!user.empty()) lists[user];  // a member without keys: an empty list
    }
  }
  std::string body = status == 200 ? KeyListJson(lists) : "";
  if (ApplyFault(path, res, body)) return;
  res.status = status;
  if (status == 200) res.set_content(body, kJson);
}

void FakeController::PutLocked(const std::string& user, const std::string& line, const std::string& sha256,
                               const std::string& md5) {
  auto old = keys_.find(sha256);
  if (old != keys_.end()) md5_to_sha256_.erase(old->second.md5);
  keys_[sha256] = KeyEntry{user, line, md5};
  md5_to_sha256_[md5] = sha256;
  log_.push_back(Change{++revision_, true, sha256, user, line});
}

std::string FakeController::AddKey(const std::string& user, const std::string& line) {
  Result<PublicKey> key = ParsePublicKeyLine(line);
  if (!key.ok()) return "";
  std::lock_guard<std::mutex> lock(mu_);
  PutLocked(user, line, key->sha256_fingerprint, key->md5_fingerprint);
  return key->sha256_fingerprint;
}

void FakeController::AddKeys(const std::string& user, const std::vector<std::string>& lines) {
  ParsedKeys parsed = ParsePublicKeyLines(lines);
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (parsed.errors[i].ok()) PutLocked(user, lines[i], parsed.keys[i].sha256_fingerprint, parsed.keys[i].md5_fingerprint);
  }
}

uint64_t FakeController::AddRawChange(const std::string& op, const std::string& fingerprint, const std::string& user,
                                      const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  log_.push_back(Change{++revision_, op == "put", fingerprint, user, key});
  return revision_;
}

void FakeController::RemoveKey(const std::string& sha256_fingerprint) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(sha256_fingerprint);
  if (it == keys_.end()) return;
  md5_to_sha256_.erase(it->second.md5);
  keys_.erase(it);
  log_.push_back(Change{++revision_, false, sha256_fingerprint, "", ""});
}

void FakeController::AddApp(const std::string& app, const std::set<std::string>& members) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app] = members;
}

void FakeController::RemoveApp(const std::string& app) {
  std::lock_guard<std::mutex> lock(mu_);
  apps_.erase(app);
}

void FakeController::SetDeltaFeed(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.delta_feed = enabled;
}

void FakeController::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  // Keep each live key's latest put; deletes and superseded puts go.
  std::vector<Change> kept;
  for (const Change& c : log_) {
    auto live = keys_.find(c.fingerprint);
    if (c.put && live != keys_.end() && live->second.line == c.line && live->second.user == c.user) {
      kept.push_back(c);
    }
  }
  // Later puts of the same key superseded earlier ones: keep the last.
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < kept.size(); ++i) last[kept[i].fingerprint] = i;
  log_.clear();
  for (size_t i = 0; i < kept.size(); ++i) {
    if (last[kept[i].fingerprint] == i) log_.push_back(kept[i]);
  }
  compacted_upto_ = revision_;
}

uint64_t FakeController::revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revision_;
}

std::map<std::string, std::string> FakeController::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [fp, entry] : keys_) out[fp] = entry.user + " " + entry.line;
  return out;
}

void FakeController::InjectFault(const std::string& path_prefix, Fault fault, int count, Duration latency) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(PendingFault{path_prefix, fault, count, latency});
}

void FakeController::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
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
