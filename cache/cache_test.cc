#include "cache/cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "tests/testing/testing.h"

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

TEST(KeyRecordTest, RoundTrips) {
  KeyRecord r = Record("alice");
  r.verified_at_ms = 1700000000999;
  Result<KeyRecord> back = DecodeKeyRecord(EncodeKeyRecord(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  KeyRecord empty;
  EXPECT_EQ(*DecodeKeyRecord(EncodeKeyRecord(empty)), empty);
}

TEST(KeyRecordTest, EveryTruncationOrExtensionIsCorruption) {
  std::string data = EncodeKeyRecord(Record("alice"));
  for (size_t len = 0; len < data.size(); ++len) {
    EXPECT_EQ(DecodeKeyRecord(data.substr(0, len)).status().code(), Status::Code::kCorruption) << len;
  }
  EXPECT_EQ(DecodeKeyRecord(data + "x").status().code(), Status::Code::kCorruption);
  std::string wrong_version = data;
  wrong_version[0] = 9;
  EXPECT_EQ(DecodeKeyRecord(wrong_version).status().code(), Status::Code::kCorruption);
}

// Random bytes either are refused as corrupt or decode to a record that
// encodes back to exactly those bytes: nothing is half-read.
TEST(KeyRecordTest, RandomBytesAreCorruptOrARecordThatRoundTrips) {
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    std::string data(rng() % 64, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    if (!data.empty() && rng() % 2) data[0] = 1;
    Result<KeyRecord> record = DecodeKeyRecord(data);
    if (!record.ok()) {
      ASSERT_EQ(record.status().code(), Status::Code::kCorruption) << record.status().ToString();
      continue;
    }
    EXPECT_EQ(EncodeKeyRecord(*record), data);
  }
  // Valid records from random bytes are rare; the encoder's own are not.
  KeyRecord sample;
  sample.user = "alice";
  sample.type = "ssh-ed25519";
  sample.blob = "AAAA";
  std::string encoded = EncodeKeyRecord(sample);
  Result<KeyRecord> back = DecodeKeyRecord(encoded);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, sample);
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
    ASSERT_TRUE(cache->TEST_PutRaw(*write, Table::kKeys, kFp1, "\x01garbage").ok());
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

}  // namespace
}  // namespace pushgate
