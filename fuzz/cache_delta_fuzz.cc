// Delta application against the LMDB key cache, as structured input: a
// sequence of controller-side puts, deletes and compactions and of syncs
// that may fail after any request (a controller going away, a killed sync).
// Checked against a model: after every sync that succeeds, the cache holds
// exactly the controller's live keys, its per-user index agrees, and its
// revision is the controller's.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "sync/sync.h"
#include "tests/feed_model/delta_feed.h"
#include "fuzz/fuzz_check.h"
#include "sshkey/sshkey.h"
#include "util/fs.h"

namespace {

constexpr const char* kKeys[] = {
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJJ1YMb1OT7NgkbMN+SK51rgA6H7Ugpw9cltmgzN9ebi",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIwA61LFGy2I8RrihyUgOcsKIP82XhPns0YoyWzRDAHk",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDjyXg2WfHZmqNS4sw1obS3M2T1OVeS/r5dWakkwTPow",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjHAEq6wuABUPkD0eL+piwpQ0HsUf3A1pFThFFFtta5",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKucYmCmKbE+znnbfjCoP9t8SajFum+vLvUBi1lcYA51",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEV8zpdO+OfKHVa7msEkaC9MkpcNWIre8Cg4i68u+iLu",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAK1r1V8ZOWnm8J27prVn9iuhNJe4RJ1wT8bmVIB4D6F",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmmkmZlOahNp1BbfotWXUXjeOS+IfQhvnIUGbl8MR23",
};
constexpr const char* kUsers[] = {"alice", "bob", "carol"};

// The controller: the feed model the fake controller serves.
class ModelController : public pushgate::KeySource {
 public:
  pushgate::Result<pushgate::FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) override {
    return feed.Page(since, limit, snapshot);
  }
  pushgate::Result<std::optional<pushgate::KeyOwner>> LookupKeyOwner(std::string_view) override {
    return pushgate::Status::Unavailable("the model has a delta feed");
  }
  // As CacheKeys reads the cache: fingerprint -> "user type blob".
  std::map<std::string, std::string> live() const {
    std::map<std::string, std::string> out;
    for (const auto& [fingerprint, key] : feed.live()) out[fingerprint] = key.first + " " + key.second;
    return out;
  }

  pushgate::testing::DeltaFeed feed;
};

std::map<std::string, std::string> CacheKeys(pushgate::KeyCache& cache) {
  std::map<std::string, std::string> out;
  auto txn = cache.BeginRead();
  FUZZ_CHECK(txn.ok(), "the cache opens for reading");
  pushgate::Status walk = cache.ForEachKey(*txn, [&](std::string_view fp, const pushgate::KeyRecord& r) {
    out[std::string(fp)] = r.user + " " + r.type + " " + r.blob;
    return pushgate::Status::OK();
  });
  FUZZ_CHECK(walk.ok(), "the key set reads");
  FUZZ_CHECK(cache.VerifyIndex(*txn).ok(), "the per-user index agrees with the keys");
  return out;
}

std::string ScratchDir() {
  static std::string dir = [] {
    char path[] = "/tmp/pushgate-fuzz-cache-XXXXXX";
    return std::string(::mkdtemp(path));
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<std::string> fingerprints = [] {
    std::vector<std::string> out;
    for (const char* line : kKeys) out.push_back(pushgate::ParsePublicKeyLine(line)->sha256_fingerprint);
    return out;
  }();
  std::string db = ScratchDir() + "/db";
  (void)pushgate::RemoveTree(db);
  auto cache = pushgate::KeyCache::Open(db, pushgate::KeyCache::Access::kReadWrite);
  FUZZ_CHECK(cache.ok(), "a fresh cache opens");
  ModelController controller;
  for (size_t i = 0; i + 1 < size && i < 400; i += 2) {
    uint8_t op = data[i], arg = data[i + 1];
    size_t key = arg % std::size(kKeys);
    switch (op % 5) {
      case 0:
      case 1: controller.feed.Put(fingerprints[key], kUsers[(arg >> 4) % 3], kKeys[key]); break;
      case 2: controller.feed.Delete(fingerprints[key]); break;
      case 3: controller.feed.Compact(); break;
      case 4: {
        pushgate::testing::FailingSource source(controller, (arg >> 4) % 4);
        pushgate::SyncOptions options;
        options.page_limit = 1 + arg % 5;
        options.now_ms = 1000 + static_cast<int64_t>(i);
        pushgate::Result<pushgate::SyncReport> report = pushgate::SyncFromFeed(**cache, source, options);
        std::map<std::string, std::string> held = CacheKeys(**cache);
        if (report.ok()) {
          FUZZ_CHECK(held == controller.live(), "a successful sync leaves exactly the controller's keys");
          FUZZ_CHECK(report->revision == controller.feed.revision(), "and the controller's revision");
        }
        break;
      }
    }
  }
  pushgate::SyncOptions options;
  options.page_limit = 3;
  pushgate::Result<pushgate::SyncReport> final_sync = pushgate::SyncFromFeed(**cache, controller, options);
  FUZZ_CHECK(final_sync.ok(), "a sync against an available controller succeeds");
  FUZZ_CHECK(CacheKeys(**cache) == controller.live(), "every history converges");
  return 0;
}
