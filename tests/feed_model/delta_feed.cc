#include "tests/feed_model/delta_feed.h"

#include <algorithm>

namespace pushgate::testing {

uint64_t DeltaFeed::Put(const std::string& fingerprint, const std::string& user, const std::string& line) {
  live_[fingerprint] = {user, line};
  return AppendRaw(true, fingerprint, user, line);
}

void DeltaFeed::Delete(const std::string& fingerprint) {
  if (live_.erase(fingerprint) == 0) return;
  AppendRaw(false, fingerprint, "", "");
}

uint64_t DeltaFeed::AppendRaw(bool put, const std::string& fingerprint, const std::string& user,
                              const std::string& line) {
  log_.push_back(Change{++revision_, put, fingerprint, user, line});
  return revision_;
}

void DeltaFeed::Compact() {
  // Each live key's latest put stays; deletes and superseded puts go.
  std::map<std::string, size_t> last_put;
  for (size_t i = 0; i < log_.size(); ++i) {
    const Change& c = log_[i];
    auto live = live_.find(c.fingerprint);
    if (c.put && live != live_.end() && live->second == std::make_pair(c.user, c.line)) last_put[c.fingerprint] = i;
  }
  std::vector<Change> kept;
  for (size_t i = 0; i < log_.size(); ++i) {
    auto it = last_put.find(log_[i].fingerprint);
    if (it != last_put.end() && it->second == i) kept.push_back(log_[i]);
  }
  log_ = std::move(kept);
  compacted_upto_ = revision_;
}

FeedAnswer DeltaFeed::Page(uint64_t since, size_t limit, bool snapshot) const {
  FeedAnswer answer;
  if (since != 0 && since < compacted_upto_ && !snapshot) {
    answer.kind = FeedAnswer::Kind::kGone;
    return answer;
  }
  auto first = std::upper_bound(log_.begin(), log_.end(), since,
                                [](uint64_t s, const Change& c) { return s < c.revision; });
  auto last = first + static_cast<std::ptrdiff_t>(std::min<size_t>(limit, static_cast<size_t>(log_.end() - first)));
  answer.page.revision = last != log_.end() ? (last - 1)->revision : std::max(revision_, since);
  answer.page.more = last != log_.end();
  for (auto it = first; it != last; ++it) {
    KeyChange change;
    change.op = it->put ? KeyChange::Op::kPut : KeyChange::Op::kDelete;
    change.fingerprint = it->fingerprint;
    change.username = it->user;
    change.key = it->line;
    answer.page.changes.push_back(std::move(change));
  }
  return answer;
}

Result<FeedAnswer> FailingSource::FetchKeys(uint64_t since, size_t limit, bool snapshot) {
  if (Fails()) return Status::Unavailable("injected failure");
  return inner_.FetchKeys(since, limit, snapshot);
}

Result<std::optional<KeyOwner>> FailingSource::LookupKeyOwner(std::string_view md5) {
  if (Fails()) return Status::Unavailable("injected failure");
  return inner_.LookupKeyOwner(md5);
}

}  // namespace pushgate::testing
