#include "sync/sync.h"

#include <future>
#include <optional>
#include <vector>

#include "sshkey/sshkey.h"
#include "util/log.h"
#include "util/names.h"

namespace pushgate {
namespace {

int64_t Seconds(int64_t ms) { return ms / 1000; }

// A successful answer is recorded in the transaction that applies it.
Status RecordSuccess(KeyCache& cache, lmdb::Txn& txn, int64_t now_ms) {
  PG_RETURN_IF_ERROR(cache.PutMetaInt(txn, kMetaLastAttempt, now_ms));
  return cache.PutMeta(txn, kMetaLastError, "");
}

// A put is applied only if everything about it checks out; `record` is
// filled for an accepted put.
Status CheckPut(const KeyChange& change, const Result<PublicKey>& parsed, const SyncOptions& options,
                KeyRecord* record) {
  if (!IsValidUserName(change.username)) return Status::InvalidArgument("invalid username");
  if (!parsed.ok()) return parsed.status();
  PG_RETURN_IF_ERROR(CheckKeyStrength(*parsed, options.min_rsa_bits));
  if (parsed->sha256_fingerprint != change.fingerprint) {
    return Status::InvalidArgument("the fingerprint does not match the key (" + parsed->sha256_fingerprint + ")");
  }
  *record = KeyRecord{change.username, parsed->type, parsed->blob, parsed->comment, Seconds(options.now_ms), 0};
  return Status::OK();
}

// Where a page's accepted changes go: the active key set in the page's own
// transaction, or the staging set's load during a walk from 0.
class ChangeTarget {
 public:
  ChangeTarget(KeyCache& cache, lmdb::Txn& txn) : cache_(&cache), txn_(&txn) {}
  explicit ChangeTarget(StagingLoad& load) : load_(&load) {}

  Status Put(std::string_view fingerprint, const KeyRecord& record) {
    return load_ ? load_->Put(fingerprint, record) : cache_->PutKey(*txn_, fingerprint, record);
  }
  Status Delete(std::string_view fingerprint) {
    return load_ ? load_->Delete(fingerprint) : cache_->DeleteKey(*txn_, fingerprint).status();
  }

 private:
  KeyCache* cache_ = nullptr;
  lmdb::Txn* txn_ = nullptr;
  StagingLoad* load_ = nullptr;
};

// Applies one page to `target`; counts into `report`.
Status ApplyPage(ChangeTarget target, const DeltaPage& page, const SyncOptions& options, SyncReport& report) {
  std::vector<std::string> lines;
  std::vector<size_t> put_index(page.changes.size(), 0);
  for (size_t i = 0; i < page.changes.size(); ++i) {
    if (page.changes[i].op == KeyChange::Op::kPut) {
      put_index[i] = lines.size();
      lines.push_back(page.changes[i].key);
    }
  }
  ParsedKeys parsed = ParsePublicKeyLines(lines);
  for (size_t i = 0; i < page.changes.size(); ++i) {
    const KeyChange& change = page.changes[i];
    if (!IsValidSha256Fingerprint(change.fingerprint)) {
      ++report.rejected;
      log::Warn("rejected a change with an invalid fingerprint", {{"fingerprint", Printable(change.fingerprint, 64)}});
      continue;
    }
    if (change.op == KeyChange::Op::kDelete) {
      PG_RETURN_IF_ERROR(target.Delete(change.fingerprint));
      ++report.deletes;
      continue;
    }
    size_t k = put_index[i];
    Result<PublicKey> key = parsed.errors[k].ok() ? Result<PublicKey>(std::move(parsed.keys[k]))
                                                  : Result<PublicKey>(parsed.errors[k]);
    KeyRecord record;
    Status valid = CheckPut(change, key, options, &record);
    if (!valid.ok()) {
      ++report.rejected;
      log::Warn("rejected a key from the controller", {{"fingerprint", change.fingerprint},
                                                       {"username", Printable(change.username, 64)},
                                                       {"error", valid.message()}});
      PG_RETURN_IF_ERROR(target.Delete(change.fingerprint));
      continue;
    }
    PG_RETURN_IF_ERROR(target.Put(change.fingerprint, record));
    ++report.puts;
  }
  return Status::OK();
}

}  // namespace

namespace {

// The controller has no delta feed: keys are looked up one by one from now on.
Status RecordLookupMode(KeyCache& cache, int64_t now_ms) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginWrite());
  PG_RETURN_IF_ERROR(cache.PutMeta(txn, kMetaFeed, "lookup"));
  PG_RETURN_IF_ERROR(RecordSuccess(cache, txn, now_ms));
  return txn.Commit();
}

// A page must not go back in history, nor promise more without sending any.
Status CheckPageFollows(const DeltaPage& page, uint64_t since) {
  if (page.revision < since) {
    return Status::Unavailable("the controller's revision went backwards (" + std::to_string(page.revision) +
                               " after " + std::to_string(since) + ")");
  }
  if (page.more && page.changes.empty() && page.revision == since) {
    return Status::Unavailable("the controller says more changes follow but sent none");
  }
  return Status::OK();
}

// The end of an incremental page, or of a whole walk from 0 (whose staging
// set becomes the active one): the revision, and for the last page the
// sync's success, committed with the keys.
Status CommitPage(KeyCache& cache, lmdb::Txn& txn, const DeltaPage& page, bool walked, int64_t now_ms) {
  if (walked) PG_RETURN_IF_ERROR(cache.ActivateStaging(txn));
  PG_RETURN_IF_ERROR(cache.PutMetaInt(txn, kMetaRevision, static_cast<int64_t>(page.revision)));
  if (!page.more) {
    PG_RETURN_IF_ERROR(cache.PutMetaInt(txn, kMetaSyncedAt, now_ms));
    PG_RETURN_IF_ERROR(cache.PutMeta(txn, kMetaFeed, "delta"));
    PG_RETURN_IF_ERROR(RecordSuccess(cache, txn, now_ms));
  }
  return txn.Commit();
}

}  // namespace

// One loop over the feed's pages, kept whole (about 70 lines) because its
// states share the walk's lifetime: incremental pages commit one by one, a
// walk from 0 loads every page into the staging set and activates it once,
// and a 410 restarts the walk at most once.
Result<SyncReport> SyncFromFeed(KeyCache& cache, KeySource& source, const SyncOptions& options) {
  SyncReport report;
  uint64_t since;
  {
    PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginRead());
    PG_ASSIGN_OR_RETURN(int64_t revision, cache.GetMetaInt(txn, kMetaRevision));
    since = static_cast<uint64_t>(revision);
  }
  report.from_revision = since;
  // A walk from 0 (the first sync, or after a 410) collects the whole
  // snapshot in a StagingLoad, writes it into the staging set, and makes
  // that the active set in one small transaction with the revision: readers
  // never see it half-built, and an interruption leaves the active set and
  // the revision as they were.
  std::optional<StagingLoad> walk;
  auto start_walk = [&] {
    walk.emplace(cache);
    since = 0;
  };
  if (since == 0) start_walk();
  int restarts = 0;
  // The next page is asked for while this one is checked and written, so
  // that the controller's time to serve a page and ours to apply it overlap
  // (a million-key walk spent them one after the other). The source is used
  // by one thread at a time: the next fetch starts once this one is taken.
  // A walk's pages after the first are snapshot continuations.
  auto fetch = [&source, limit = options.page_limit](uint64_t from, bool walking) {
    return source.FetchKeys(from, limit, walking && from > 0);
  };
  std::future<Result<FeedAnswer>> next_page;
  for (;;) {
    bool resyncing = walk.has_value();
    PG_ASSIGN_OR_RETURN(FeedAnswer answer, next_page.valid() ? next_page.get() : fetch(since, resyncing));
    if (answer.kind == FeedAnswer::Kind::kUnsupported) {
      walk.reset();
      PG_RETURN_IF_ERROR(RecordLookupMode(cache, options.now_ms));
      report.outcome = SyncReport::Outcome::kNoFeed;
      return report;
    }
    if (answer.kind == FeedAnswer::Kind::kGone) {
      if (resyncing && since == 0) {
        return Status::Unavailable("the controller answered 410 Gone to since=0");
      }
      // A snapshot continuation should never be refused; one restart covers
      // a controller that compacted meanwhile, more would loop forever.
      if (resyncing && ++restarts > 1) {
        return Status::Unavailable("the controller answered 410 Gone to a snapshot continuation (since=" +
                                   std::to_string(since) + "&snapshot=1); it must serve those from its compacted "
                                   "history (docs/controller-api.md)");
      }
      log::Info("controller history compacted; resyncing all keys", {{"since", std::to_string(since)}});
      report.resynced = true;
      start_walk();
      continue;
    }
    const DeltaPage& page = answer.page;
    PG_RETURN_IF_ERROR(CheckPageFollows(page, since));
    ++report.pages;
    since = page.revision;
    if (page.more) next_page = std::async(std::launch::async, fetch, since, resyncing);
    if (resyncing) {
      PG_RETURN_IF_ERROR(ApplyPage(ChangeTarget(*walk), page, options, report));
      if (page.more) continue;
      PG_RETURN_IF_ERROR(walk->Write());
      walk.reset();
    }
    // An incremental page is one transaction with its revision; the end of
    // a walk activates the loaded set in one.
    PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginWrite());
    if (!resyncing) PG_RETURN_IF_ERROR(ApplyPage(ChangeTarget(cache, txn), page, options, report));
    PG_RETURN_IF_ERROR(CommitPage(cache, txn, page, resyncing, options.now_ms));
    if (!page.more) break;
  }
  report.revision = since;
  return report;
}

Result<LookupOutcome> LookupKey(KeyCache& cache, KeySource& source, std::string_view type, std::string_view blob,
                                int64_t now_ms, Duration negative_ttl) {
  Result<PublicKey> key = ParsePublicKeyLine(std::string(type) + " " + std::string(blob));
  if (!key.ok()) return key.status().Annotate("the key to look up");
  PG_ASSIGN_OR_RETURN(std::string md5, Md5Fingerprint(*key));
  PG_ASSIGN_OR_RETURN(std::optional<KeyOwner> owner, source.LookupKeyOwner(md5));
  LookupOutcome outcome;
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginWrite());
  if (owner && !IsValidUserName(owner->username)) {
    log::Warn("rejected a key owner from the controller",
              {{"fingerprint", key->sha256_fingerprint}, {"username", Printable(owner->username, 64)}});
    owner.reset();
  }
  if (owner) {
    KeyRecord record{owner->username, key->type, key->blob, key->comment, Seconds(now_ms), now_ms};
    PG_RETURN_IF_ERROR(cache.PutKey(txn, key->sha256_fingerprint, record));
    PG_RETURN_IF_ERROR(cache.DeleteNegative(txn, key->sha256_fingerprint));
    outcome.known = true;
    outcome.username = owner->username;
  } else {
    PG_RETURN_IF_ERROR(cache.DeleteKey(txn, key->sha256_fingerprint).status());
    PG_RETURN_IF_ERROR(cache.PutNegative(txn, key->sha256_fingerprint, now_ms + negative_ttl.count()));
  }
  // Expired negative entries go as new ones come, so a key-scanning client
  // cannot grow the table without bound.
  PG_RETURN_IF_ERROR(cache.SweepNegative(txn, now_ms));
  PG_RETURN_IF_ERROR(cache.PutMeta(txn, kMetaFeed, "lookup"));
  PG_RETURN_IF_ERROR(cache.PutMetaInt(txn, kMetaSyncedAt, now_ms));
  PG_RETURN_IF_ERROR(RecordSuccess(cache, txn, now_ms));
  PG_RETURN_IF_ERROR(txn.Commit());
  return outcome;
}

Status RecordSyncFailure(KeyCache& cache, const Status& error, int64_t now_ms) {
  PG_ASSIGN_OR_RETURN(lmdb::Txn txn, cache.BeginWrite());
  PG_RETURN_IF_ERROR(cache.PutMetaInt(txn, kMetaLastAttempt, now_ms));
  PG_RETURN_IF_ERROR(cache.PutMeta(txn, kMetaLastError, error.message().substr(0, 500)));
  return txn.Commit();
}

}  // namespace pushgate
