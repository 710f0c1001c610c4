// The keys helper's hot path, piece by piece: config parse, environment open
// and lookup (as each helper process does), lookup in an open environment,
// and formatting the authorized_keys line.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cache/cache.h"
#include "config/config.h"
#include "util/fs.h"

namespace pushgate {
namespace {

const char kFingerprint[] = "SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI";

// A cache with `n` keys in a fresh directory, removed at exit.
std::string MakeCache(int n) {
  char tmpl[] = "/tmp/pushgate-bench-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto cache = KeyCache::Open(dir, KeyCache::Access::kReadWrite);
  auto txn = (*cache)->BeginWrite();
  KeyRecord record{"alice", "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIEKUSxW6sncsk8eTshb0JCRgFUTKcmKtWycPbj9ibjV6",
                   "laptop", 1700000000};
  for (int i = 0; i < n; ++i) {
    std::string fp = "SHA256:" + std::to_string(i * 7919) + std::string(43 - std::to_string(i * 7919).size(), 'A');
    (void)(*cache)->PutKey(*txn, fp, record);
  }
  (void)(*cache)->PutKey(*txn, kFingerprint, record);
  (void)txn->Commit();
  return dir;
}

void BM_OpenAndLookup(benchmark::State& state) {
  std::string dir = MakeCache(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto cache = KeyCache::Open(dir, KeyCache::Access::kReadOnly);
    benchmark::DoNotOptimize((*cache)->Lookup(kFingerprint));
  }
  (void)RemoveTree(dir);
}
BENCHMARK(BM_OpenAndLookup)->Arg(1000)->Arg(100000);

void BM_LookupInOpenCache(benchmark::State& state) {
  std::string dir = MakeCache(static_cast<int>(state.range(0)));
  auto cache = KeyCache::Open(dir, KeyCache::Access::kReadOnly);
  for (auto _ : state) benchmark::DoNotOptimize((*cache)->Lookup(kFingerprint));
  (void)RemoveTree(dir);
}
BENCHMARK(BM_LookupInOpenCache)->Arg(1000)->Arg(100000);

void BM_ParseConfig(benchmark::State& state) {
  const std::string text =
      "mode = \"standalone\"\ndata_dir = \"/var/lib/pushgate\"\ngit_user = \"git\"\n"
      "deploy_refs = [\"refs/heads/main\", \"refs/heads/master\"]\n[build]\ntimeout = \"30m\"\n"
      "[log]\ndestination = \"syslog\"\n";
  for (auto _ : state) benchmark::DoNotOptimize(ParseConfig(text, "bench"));
}
BENCHMARK(BM_ParseConfig);

}  // namespace
}  // namespace pushgate

BENCHMARK_MAIN();
