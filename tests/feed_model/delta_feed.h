// The controller's delta feed of keys, in memory, by the rules of
// docs/controller-api.md: every change takes the next revision; Compact()
// forgets the history up to now but keeps each live key's latest put; a
// `since` older than the compaction is 410 Gone unless it continues a walk
// that started at 0 (a snapshot); the last page carries the current
// revision. The fake controller serves it over HTTP, the sync's fuzz target
// reads it directly: one model of the feed for both.
#ifndef PUSHGATE_TESTS_FEED_MODEL_DELTA_FEED_H_
#define PUSHGATE_TESTS_FEED_MODEL_DELTA_FEED_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "controller/api.h"

namespace pushgate::testing {

class DeltaFeed {
 public:
  struct Change {
    uint64_t revision;
    bool put;
    std::string fingerprint, user, line;
  };

  // A key added or replaced, and a key removed (nothing if it is not live).
  uint64_t Put(const std::string& fingerprint, const std::string& user, const std::string& line);
  void Delete(const std::string& fingerprint);
  // A change as a controller might send it, valid or not; it does not
  // change which keys are live.
  uint64_t AppendRaw(bool put, const std::string& fingerprint, const std::string& user, const std::string& line);
  void Compact();

  // The page after `since`, at most `limit` changes; kGone for a `since`
  // the compaction forgot, unless `snapshot`.
  FeedAnswer Page(uint64_t since, size_t limit, bool snapshot) const;

  uint64_t revision() const { return revision_; }
  // fingerprint -> (user, line) of every live key
  const std::map<std::string, std::pair<std::string, std::string>>& live() const { return live_; }

 private:
  uint64_t revision_ = 0, compacted_upto_ = 0;
  std::vector<Change> log_;
  std::map<std::string, std::pair<std::string, std::string>> live_;
};

// Fails the `fail_at`-th request (1-based) and every later one, like a
// controller that goes away mid-sync or a sync process that is killed;
// 0 never fails.
class FailingSource : public KeySource {
 public:
  FailingSource(KeySource& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  Result<FeedAnswer> FetchKeys(uint64_t since, size_t limit, bool snapshot) override;
  Result<std::optional<KeyOwner>> LookupKeyOwner(std::string_view md5) override;
  int calls() const { return calls_; }

 private:
  bool Fails() { return ++calls_ >= fail_at_ && fail_at_ > 0; }
  KeySource& inner_;
  int fail_at_;
  int calls_ = 0;
};

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_FEED_MODEL_DELTA_FEED_H_
