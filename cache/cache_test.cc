#include "cache/cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/testing/testing.h"
#include "util/fs.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

using testing::TempDir;

const char kFp1[] = "SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI";
const char kFp2[] = "SHA256:UPSXJz93Nq9OMT82lim0rcfuR2deBnsyLM41RkZW/Ao";

KeyRecord Record(const std::string& user) {
  return KeyRecord{user, "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIEKUSxW6sncsk8eTshb0JCRgFUTKcmKtWycPbj9ibjV6",
                   "laptop", 1700000000};
}

std::unique_ptr<KeyCache> OpenRw(const std::string& dir) {
  Result<std::unique_ptr<KeyCache>> c = KeyCache::Open(dir, KeyCache::Access::kReadWrite);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// A key blob of `type`'s shape: its type string, then `rest`.
std::string Blob(const std::string& type, const std::string& rest) {
  std::string raw;
  for (int shift = 24; shift >= 0; shift -= 8) raw += static_cast<char>((type.size() >> shift) & 0xFF);
  return EncodeBase64(raw + type + rest, true);
}

// A record and fingerprint per seed, with a digest whose first eight bytes
// are `prefix` when given.
KeyRecord SeededRecord(const std::string& user, uint32_t seed) {
  std::string rest(36, '\0');
  for (size_t i = 0; i < rest.size(); ++i) rest[i] = static_cast<char>((seed >> (i % 4 * 8)) + i);
  return KeyRecord{user, "ssh-ed25519", Blob("ssh-ed25519", rest), "k" + std::to_string(seed), 1700000000 + seed, 0};
}
std::string SeededFingerprint(uint32_t seed, const std::string& prefix = "") {
  std::mt19937 rng(seed);
  std::string digest(32, '\0');
  for (char& c : digest) c = static_cast<char>(rng());
  digest.replace(0, prefix.size(), prefix);
  return FingerprintText(digest);
}

TEST(KeyRecordTest, RoundTrips) {
  KeyRecord r = Record("alice");
  r.verified_at_ms = 1700000000999;
  Result<std::string> encoded = EncodeKeyRecord(r);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  Result<KeyRecord> back = DecodeKeyRecord(*encoded);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(*KeyRecordUser(*encoded), "alice");
  // A type without a code is spelled out, and still round-trips.
  KeyRecord odd{"bob", "ssh-future@example.com", Blob("ssh-future@example.com", "xyz"), "", 0, 0};
  EXPECT_EQ(*DecodeKeyRecord(*EncodeKeyRecord(odd)), odd);
}

// The layout's point: the blob is stored in binary behind a type code.
TEST(KeyRecordTest, AnEd25519RecordIsCompact) {
  KeyRecord r = Record("alice");
  r.comment.clear();
  // version, user (1 + 5), type code, the blob after its type (1 + 36), comment, two times.
  EXPECT_EQ(EncodeKeyRecord(r)->size(), 1u + 6 + 1 + 37 + 1 + 5 + 1);
}

TEST(KeyRecordTest, BlobsThatAreNotCanonicalOrDoNotMatchTheirTypeAreRefused) {
  for (const std::string& blob : {std::string("not base64!"), std::string("AAAA"),
                                  Blob("ssh-rsa", "abc"), std::string(""),
                                  // the same bytes without their padding
                                  Blob("ssh-ed25519", "ab").substr(0, Blob("ssh-ed25519", "ab").find('='))}) {
    KeyRecord r = Record("alice");
    r.blob = blob;
    EXPECT_EQ(EncodeKeyRecord(r).status().code(), Status::Code::kInvalidArgument) << blob;
  }
  EXPECT_EQ(EncodeKeyRecord(KeyRecord{}).status().code(), Status::Code::kInvalidArgument);
}

TEST(KeyRecordTest, EveryTruncationOrExtensionIsCorruption) {
  std::string data = *EncodeKeyRecord(Record("alice"));
  for (size_t len = 0; len < data.size(); ++len) {
    EXPECT_EQ(DecodeKeyRecord(data.substr(0, len)).status().code(), Status::Code::kCorruption) << len;
  }
  EXPECT_EQ(DecodeKeyRecord(data + "x").status().code(), Status::Code::kCorruption);
  std::string wrong_version = data;
  wrong_version[0] = 9;
  EXPECT_EQ(DecodeKeyRecord(wrong_version).status().code(), Status::Code::kCorruption);
  std::string unknown_code = data;
  unknown_code[7] = 99;  // after the version and "alice"
  EXPECT_EQ(DecodeKeyRecord(unknown_code).status().code(), Status::Code::kCorruption);
}

// Random bytes either are refused as corrupt or decode to a record that
// encodes back to exactly those bytes: nothing is half-read, and no record
// has two encodings.
TEST(KeyRecordTest, RandomBytesAreCorruptOrARecordThatRoundTrips) {
  std::mt19937 rng(1);
  int decoded = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string data(rng() % 64, '\0');
    for (char& c : data) c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 8);
    if (!data.empty() && rng() % 2) data[0] = 2;
    Result<KeyRecord> record = DecodeKeyRecord(data);
    if (!record.ok()) {
      ASSERT_EQ(record.status().code(), Status::Code::kCorruption) << record.status().ToString();
      continue;
    }
    ++decoded;
    EXPECT_EQ(*EncodeKeyRecord(*record), data);
  }
  EXPECT_GT(decoded, 0);
  // A spelled-out type that has a code is a second encoding: refused.
  std::string spelled = std::string("\x02\x01u\x00\x0bssh-ed25519\x00\x00\x00\x00", 20);
  EXPECT_EQ(DecodeKeyRecord(spelled).status().code(), Status::Code::kCorruption);
}

TEST(FingerprintDigestTest, AcceptsOnlyOpenSshsExactText) {
  Result<std::string> digest = FingerprintDigest(kFp1);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(digest->size(), 32u);
  EXPECT_EQ(FingerprintText(*digest), kFp1);
  std::string last_bits_set = kFp1;
  last_bits_set.back() = 'J';  // 'I' + 1: the unused low bits are no longer zero
  for (const std::string& bad : {std::string("SHA256:nope"), std::string(kFp1).substr(7), std::string("MD5:ab"),
                                 last_bits_set, std::string(kFp1) + "A"}) {
    EXPECT_EQ(FingerprintDigest(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(KeyCacheTest, ReadOnlyOpenOfMissingCacheIsNotFound) {
  TempDir dir;
  EXPECT_TRUE(KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly).status().IsNotFound());
}

// Keys helpers killed inside a read transaction (kill -9, or sshd's timeout)
// leave their reader slot behind. With another process keeping the
// environment open (the sync daemon, a concurrent helper) LMDB never resets
// the table, so without mdb_reader_check the 127th dead reader would lock
// every later lookup out.
TEST(KeyCacheTest, ReadersKilledMidTransactionNeverFillTheReaderTable) {
  TempDir dir;
  {
    auto cache = OpenRw(dir / "db");
    ASSERT_TRUE(cache);
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*txn, kFp1, Record("alice")).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::unique_ptr<KeyCache>> keeper = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(keeper.ok());
  for (int i = 0; i < 200; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto reader = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
      if (!reader.ok()) ::_exit(3);
      auto txn = (*reader)->BeginRead();
      if (!txn.ok()) ::_exit(4);
      ::raise(SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "helper " << i << " could not read: exit " << WEXITSTATUS(status);
  }
  Result<std::unique_ptr<KeyCache>> after = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  auto found = (*after)->Lookup(kFp1);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->record.has_value());
}

TEST(KeyCacheTest, PutGetDeleteAndUserIndex) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  ASSERT_TRUE(cache);
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(cache->PutKey(*txn, kFp1, Record("alice")).ok());
    ASSERT_TRUE(cache->PutKey(*txn, kFp2, Record("alice")).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<std::unique_ptr<KeyCache>> reader = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto found = (*reader)->Lookup(kFp1);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->record.has_value());
  EXPECT_EQ(*found->record, Record("alice"));
  EXPECT_FALSE((*reader)->Lookup("SHA256:nope")->record.has_value());
  {
    auto txn = cache->BeginRead();
    EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "alice"), (std::vector<std::string>{kFp1, kFp2}));
  }
  // Moving a key to another user moves its index entry.
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*txn, kFp2, Record("bob")).ok());
    EXPECT_TRUE(*cache->DeleteKey(*txn, kFp1));
    EXPECT_FALSE(*cache->DeleteKey(*txn, kFp1));
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = cache->BeginRead();
  EXPECT_TRUE(cache->UserKeyFingerprints(*txn, "alice")->empty());
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "bob"), (std::vector<std::string>{kFp2}));
  // "al" must not match "alice"'s entries: the separator is part of the prefix.
  EXPECT_TRUE(cache->UserKeyFingerprints(*txn, "bo")->empty());
}

TEST(KeyCacheTest, MappingsPutOnceDeleteAndListInKeyOrder) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  ASSERT_TRUE(cache);
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(txn.ok());
    EXPECT_TRUE(*cache->PutMapping(*txn, Mappings::kPrincipals, "ops", "alice"));
    EXPECT_TRUE(*cache->PutMapping(*txn, Mappings::kPrincipals, "ci", "bob"));
    EXPECT_FALSE(*cache->PutMapping(*txn, Mappings::kPrincipals, "ops", "bob"));
    EXPECT_TRUE(*cache->PutMapping(*txn, Mappings::kCaKeys, kFp1, "ssh-ed25519 AAAA ca"));
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = cache->BeginRead();
    EXPECT_EQ(*cache->GetMapping(*txn, Mappings::kPrincipals, "ops"), "alice");
    EXPECT_FALSE(cache->GetMapping(*txn, Mappings::kPrincipals, kFp1)->has_value());  // tables are apart
    EXPECT_EQ(*cache->ListMappings(*txn, Mappings::kPrincipals),
              (std::vector<std::pair<std::string, std::string>>{{"ci", "bob"}, {"ops", "alice"}}));
  }
  auto txn = cache->BeginWrite();
  EXPECT_TRUE(*cache->DeleteMapping(*txn, Mappings::kCaKeys, kFp1));
  EXPECT_FALSE(*cache->DeleteMapping(*txn, Mappings::kCaKeys, kFp1));
  EXPECT_TRUE(cache->ListMappings(*txn, Mappings::kCaKeys)->empty());
}

TEST(KeyCacheTest, InsertKeyNeverOverwrites) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  auto txn = cache->BeginWrite();
  auto first = cache->InsertKey(*txn, kFp1, Record("alice"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  auto second = cache->InsertKey(*txn, kFp1, Record("bob"));
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->user, "alice");
  EXPECT_EQ((*cache->GetKey(*txn, kFp1))->user, "alice");
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "alice"), (std::vector<std::string>{kFp1}));
  EXPECT_TRUE(cache->UserKeyFingerprints(*txn, "bob")->empty());
}

TEST(KeyCacheTest, ReadersSeeASnapshotNeverAHalfWrite) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  auto reader = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(reader.ok());
  auto read_txn = (*reader)->BeginRead();
  ASSERT_TRUE(read_txn.ok());
  auto write = cache->BeginWrite();
  ASSERT_TRUE(cache->PutKey(*write, kFp1, Record("alice")).ok());
  // Uncommitted: invisible to a new reader too.
  EXPECT_FALSE((*reader)->Lookup(kFp1)->record.has_value());
  ASSERT_TRUE(write->Commit().ok());
  // The old transaction still sees the old state; a new one sees the write.
  EXPECT_FALSE((*reader)->GetKey(*read_txn, kFp1)->has_value());
  EXPECT_TRUE((*reader)->Lookup(kFp1)->record.has_value());
}

TEST(KeyCacheTest, AbortedWriteLeavesNothing) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto write = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*write, kFp1, Record("alice")).ok());
  }  // destroyed without Commit
  EXPECT_FALSE(cache->Lookup(kFp1)->record.has_value());
}

TEST(KeyCacheTest, CorruptRecordIsReportedNotReturned) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto write = cache->BeginWrite();
    ASSERT_TRUE(cache->TEST_PutRaw(*write, Table::kKeys, *FingerprintDigest(kFp1), "\x02garbage").ok());
    ASSERT_TRUE(write->Commit().ok());
  }
  EXPECT_EQ(cache->Lookup(kFp1).status().code(), Status::Code::kCorruption);
}

TEST(KeyCacheTest, RefusesUnknownSchema) {
  TempDir dir;
  {
    auto cache = OpenRw(dir / "db");
    auto write = cache->BeginWrite();
    ASSERT_TRUE(cache->TEST_PutRaw(*write, Table::kMeta, "schema", "99").ok());
    ASSERT_TRUE(write->Commit().ok());
  }
  EXPECT_EQ(KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(KeyCache::Open(dir / "db", KeyCache::Access::kReadWrite).status().code(), Status::Code::kCorruption);
}

TEST(KeyCacheTest, GarbageFileIsAnErrorNotACrash) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "db").c_str(), 0700), 0);
  testing::WriteFile(dir / "db/data.mdb", std::string(8192, 'x'));
  Result<std::unique_ptr<KeyCache>> c = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  EXPECT_FALSE(c.ok());
}

TEST(KeyCacheTest, StagingSetIsInvisibleUntilActivatedInOneStep) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*txn, kFp1, Record("alice")).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto reader = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(reader.ok());
  // A resync builds the new set across several transactions...
  for (const char* fp : {kFp2}) {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->ClearStaging(*txn).ok());
    ASSERT_TRUE(cache->PutKey(*txn, fp, Record("bob"), KeySet::kStaging).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  // ...which readers do not see: they still get the old set.
  EXPECT_TRUE((*reader)->Lookup(kFp1)->record.has_value());
  EXPECT_FALSE((*reader)->Lookup(kFp2)->record.has_value());
  {
    auto txn = cache->BeginWrite();
    EXPECT_EQ(*cache->KeyCount(*txn, KeySet::kStaging), 1u);
    ASSERT_TRUE(cache->ActivateStaging(*txn).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_FALSE((*reader)->Lookup(kFp1)->record.has_value());
  EXPECT_EQ((*reader)->Lookup(kFp2)->record->user, "bob");
  auto txn = cache->BeginRead();
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "bob"), (std::vector<std::string>{kFp2}));
  EXPECT_TRUE(cache->UserKeyFingerprints(*txn, "alice")->empty());
  // The old set is now the staging set, emptied by the next resync.
  EXPECT_EQ(*cache->KeyCount(*txn, KeySet::kStaging), 1u);
}

TEST(KeyCacheTest, LookupCarriesSyncStateAndNegativeEntries) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutMetaInt(*txn, kMetaSyncedAt, 1700000000123).ok());
    ASSERT_TRUE(cache->PutMeta(*txn, kMetaFeed, "lookup").ok());
    ASSERT_TRUE(cache->PutNegative(*txn, kFp2, 5000).ok());
    ASSERT_TRUE(cache->PutNegative(*txn, kFp1, 9000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto found = cache->Lookup(kFp2);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->record.has_value());
  EXPECT_EQ(found->synced_at_ms, 1700000000123);
  EXPECT_EQ(found->feed, "lookup");
  EXPECT_EQ(found->negative_until_ms, 5000);
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->SweepNegative(*txn, 6000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(cache->Lookup(kFp2)->negative_until_ms, 0);
  EXPECT_EQ(cache->Lookup(kFp1)->negative_until_ms, 9000);
  auto txn = cache->BeginWrite();
  ASSERT_TRUE(cache->PutMeta(*txn, kMetaSyncedAt, "12x").ok());
  EXPECT_EQ(cache->GetMetaInt(*txn, kMetaSyncedAt).status().code(), Status::Code::kCorruption);
  ASSERT_TRUE(cache->PutMeta(*txn, kMetaKeySet, "7").ok());
  EXPECT_EQ(cache->GetKey(*txn, kFp1).status().code(), Status::Code::kCorruption);
}

TEST(KeyCacheTest, ForEachKeyVisitsTheActiveSetInOrder) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  auto txn = cache->BeginWrite();
  ASSERT_TRUE(cache->PutKey(*txn, kFp2, Record("bob")).ok());
  ASSERT_TRUE(cache->PutKey(*txn, kFp1, Record("alice")).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(cache->ForEachKey(*txn, [&](std::string_view fp, const KeyRecord& r) {
    seen.push_back(std::string(fp) + "=" + r.user);
    return Status::OK();
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{std::string(kFp1) + "=alice", std::string(kFp2) + "=bob"}));
}

TEST(KeyCacheTest, CompactCopyOpensAsACache) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto write = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*write, kFp1, Record("alice")).ok());
    ASSERT_TRUE(write->Commit().ok());
  }
  ASSERT_EQ(::mkdir((dir / "copy").c_str(), 0700), 0);
  int fd = ::open((dir / "copy/data.mdb").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(cache->CopyCompactTo(fd).ok());
  ::close(fd);
  auto copy = KeyCache::Open(dir / "copy", KeyCache::Access::kReadWrite);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_TRUE((*copy)->Lookup(kFp1)->record.has_value());
}

// Two keys of one user whose digests share the index's prefix share one
// index entry: it goes only with the last of them.
TEST(KeyCacheTest, KeysSharingAnIndexPrefixAreListedAndUnindexedCorrectly) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  std::string a = SeededFingerprint(1, "12345678");
  std::string b = SeededFingerprint(2, "12345678");
  std::string c = SeededFingerprint(3, "12345678");
  auto txn = cache->BeginWrite();
  ASSERT_TRUE(cache->PutKey(*txn, a, SeededRecord("alice", 1)).ok());
  ASSERT_TRUE(cache->PutKey(*txn, b, SeededRecord("alice", 2)).ok());
  ASSERT_TRUE(cache->PutKey(*txn, c, SeededRecord("bob", 3)).ok());
  std::vector<std::string> both{a, b};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "alice"), both);
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "bob"), (std::vector<std::string>{c}));
  ASSERT_TRUE(cache->VerifyIndex(*txn).ok());
  EXPECT_TRUE(*cache->DeleteKey(*txn, a));
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "alice"), (std::vector<std::string>{b}));
  ASSERT_TRUE(cache->VerifyIndex(*txn).ok());
  ASSERT_TRUE(cache->PutKey(*txn, b, SeededRecord("bob", 2)).ok());  // moves to bob
  EXPECT_TRUE(cache->UserKeyFingerprints(*txn, "alice")->empty());
  std::vector<std::string> bobs{b, c};
  std::sort(bobs.begin(), bobs.end());
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "bob"), bobs);
  EXPECT_TRUE(cache->VerifyIndex(*txn).ok());
}

// Layout 1 as the previous pushgate wrote it: text fingerprints as keys,
// version-1 records (user, type, base64 blob, comment, two varints).
std::string LayoutOneRecord(const KeyRecord& r) {
  std::string out(1, '\x01');
  for (const std::string* field : {&r.user, &r.type, &r.blob, &r.comment}) {
    out += static_cast<char>(field->size());
    out += *field;
  }
  uint64_t times[] = {static_cast<uint64_t>(r.added_at), static_cast<uint64_t>(r.verified_at_ms)};
  for (uint64_t v : times) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
    out += static_cast<char>(v);
  }
  return out;
}

void PlantLayoutOne(const std::string& db, const std::vector<std::pair<std::string, KeyRecord>>& keys,
                    const std::string& corrupt_fingerprint = "") {
  auto cache = OpenRw(db);
  ASSERT_TRUE(cache);
  auto txn = cache->BeginWrite();
  ASSERT_TRUE(cache->TEST_PutRaw(*txn, Table::kMeta, "schema", "1").ok());
  ASSERT_TRUE(cache->TEST_PutRaw(*txn, Table::kMeta, "revision", "42").ok());
  for (const auto& [fp, record] : keys) {
    ASSERT_TRUE(cache->TEST_PutRaw(*txn, Table::kKeys, fp, LayoutOneRecord(record)).ok());
    ASSERT_TRUE(cache->TEST_PutRaw(*txn, Table::kUserKeys, CompositeKey(record.user, fp), "").ok());
  }
  if (!corrupt_fingerprint.empty()) {
    ASSERT_TRUE(cache->TEST_PutRaw(*txn, Table::kKeys, corrupt_fingerprint, "\x01\x09trunc").ok());
  }
  ASSERT_TRUE(txn->Commit().ok());
}

TEST(KeyCacheTest, LayoutOneIsConvertedByTheFirstReadWriteOpenAndNeverMisread) {
  TempDir dir;
  KeyRecord verified = SeededRecord("bob", 2);
  verified.verified_at_ms = 1700000000999;
  std::vector<std::pair<std::string, KeyRecord>> keys{
      {kFp1, Record("alice")}, {kFp2, Record("alice")}, {SeededFingerprint(2), verified}};
  PlantLayoutOne(dir / "db", keys);

  // A reader does not guess: it says what to run.
  Result<std::unique_ptr<KeyCache>> reader = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("layout 1"), std::string::npos) << reader.status().ToString();
  EXPECT_NE(reader.status().message().find("pushgate"), std::string::npos) << reader.status().ToString();

  auto cache = OpenRw(dir / "db");
  ASSERT_TRUE(cache);
  auto txn = cache->BeginRead();
  EXPECT_EQ(**cache->GetMeta(*txn, "schema"), "2");
  EXPECT_EQ(*cache->GetMetaInt(*txn, kMetaRevision), 42);  // the sync state survives
  for (const auto& [fp, record] : keys) {
    Result<std::optional<KeyRecord>> got = cache->GetKey(*txn, fp);
    ASSERT_TRUE(got.ok() && got->has_value()) << fp;
    EXPECT_EQ(**got, record);
  }
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "alice"), (std::vector<std::string>{kFp1, kFp2}));
  EXPECT_EQ(*cache->KeyCount(*txn), 3u);
  EXPECT_EQ(*cache->KeyCount(*txn, KeySet::kStaging), 0u);  // the old tables are emptied
  EXPECT_TRUE(cache->VerifyIndex(*txn).ok());
  Result<std::unique_ptr<KeyCache>> after = KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ((*after)->Lookup(kFp1)->record->user, "alice");
}

TEST(KeyCacheTest, ALayoutOneCacheThatCannotBeConvertedIsLeftAsItWas) {
  TempDir dir;
  PlantLayoutOne(dir / "db", {{kFp1, Record("alice")}}, kFp2);
  Result<std::unique_ptr<KeyCache>> opened = KeyCache::Open(dir / "db", KeyCache::Access::kReadWrite);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kCorruption);
  EXPECT_NE(opened.status().message().find(kFp2), std::string::npos) << opened.status().ToString();
  // Still layout 1, so still refused by a reader rather than misread.
  EXPECT_NE(KeyCache::Open(dir / "db", KeyCache::Access::kReadOnly).status().message().find("layout 1"),
            std::string::npos);
}

// A full resync's load: puts and deletes in any order, later ones winning,
// written into the staging set (invisible until activated) with its index.
TEST(StagingLoadTest, WritesTheLastChangeOfEveryKeyInDigestOrderWithItsIndex) {
  TempDir dir;
  auto cache = OpenRw(dir / "db");
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->PutKey(*txn, kFp1, Record("old")).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  std::map<std::string, KeyRecord> model;
  std::mt19937 rng(7);
  StagingLoad load(*cache);
  for (uint32_t i = 0; i < 5000; ++i) {
    uint32_t seed = rng() % 3000;
    std::string fp = SeededFingerprint(seed, seed % 10 == 0 ? "sharedpx" : "");
    if (rng() % 5 == 0) {
      ASSERT_TRUE(load.Delete(fp).ok());
      model.erase(fp);
    } else {
      KeyRecord record = SeededRecord("user" + std::to_string(rng() % 40), seed);
      ASSERT_TRUE(load.Put(fp, record).ok());
      model[fp] = record;
    }
  }
  EXPECT_EQ(load.Put("SHA256:nope", Record("x")).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(load.Write().ok());
  EXPECT_EQ(cache->Lookup(kFp1)->record->user, "old");  // not active yet
  {
    auto txn = cache->BeginWrite();
    ASSERT_TRUE(cache->ActivateStaging(*txn).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = cache->BeginRead();
  std::map<std::string, KeyRecord> stored;
  ASSERT_TRUE(cache->ForEachKey(*txn, [&](std::string_view fp, const KeyRecord& r) {
    stored[std::string(fp)] = r;
    return Status::OK();
  }).ok());
  EXPECT_EQ(stored, model);
  Status index = cache->VerifyIndex(*txn);
  EXPECT_TRUE(index.ok()) << index.ToString();
  std::vector<std::string> user7;
  for (const auto& [fp, r] : model) {
    if (r.user == "user7") user7.push_back(fp);
  }
  EXPECT_EQ(*cache->UserKeyFingerprints(*txn, "user7"), user7);
  // Nothing of the load is left in the cache's directory.
  Result<std::vector<std::string>> files = ListDir(dir / "db");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(std::set<std::string>(files->begin(), files->end()), (std::set<std::string>{"data.mdb", "lock.mdb"}));
}

}  // namespace
}  // namespace pushgate
