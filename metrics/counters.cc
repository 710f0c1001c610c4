#include "metrics/counters.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "data-dir/data_dir.h"
#include "util/fd.h"

namespace pushgate::metrics {
namespace {

constexpr size_t kCounters = static_cast<size_t>(Counter::kCount);
constexpr size_t kHistograms = static_cast<size_t>(Histogram::kCount);
constexpr size_t kBuckets = kBucketBounds.size() + 1;
constexpr size_t kGauges = static_cast<size_t>(Gauge::kCount);

struct FileHistogram {
  uint64_t buckets[kBuckets];
  uint64_t sum_us;
};

struct FileLayout {
  uint64_t magic;
  uint64_t version;
  uint64_t counters[kCounters];
  FileHistogram histograms[kHistograms];
  int64_t gauges[kGauges];
};

constexpr uint64_t kMagic = 0x7067'6d65'7472'6963;  // "pgmetric"
// Changes whenever a counter, histogram or bucket is added, so processes of
// two releases never read each other's slots as their own.
constexpr uint64_t kVersion = 1 | kCounters << 8 | kHistograms << 24 | kBuckets << 40 | kGauges << 52;

bool HeaderMatches(const FileLayout* file) {
  return __atomic_load_n(&file->magic, __ATOMIC_ACQUIRE) == kMagic && file->version == kVersion;
}

// Writes a fresh file next to `path` and renames it into place: replaces a
// file of another layout (an upgrade) without a window where it is torn.
void Replace(const std::string& path) {
  std::string tmp = path + ".new." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) return;
  FileLayout fresh = {};
  fresh.magic = kMagic;
  fresh.version = kVersion;
  if (::write(fd.get(), &fresh, sizeof fresh) != static_cast<ssize_t>(sizeof fresh) ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    (void)::unlink(tmp.c_str());  // metrics never fail the caller
  }
}

// This process's mapping of the file, made on first use.
class Mapping {
 public:
  static FileLayout* ForWriting(const std::string& data_dir) {
    static Mapping mapping;
    if (mapping.file_ == nullptr || mapping.data_dir_ != data_dir) mapping.Open(data_dir);
    return mapping.file_;
  }

 private:
  ~Mapping() { Unmap(); }

  void Unmap() {
    if (file_ != nullptr) ::munmap(file_, sizeof(FileLayout));
    file_ = nullptr;
  }

  void Open(const std::string& data_dir) {
    Unmap();
    data_dir_ = data_dir;
    std::string path = DataDir(data_dir).Counters();
    for (int attempt = 0; attempt < 2 && file_ == nullptr; ++attempt) {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
      struct stat st;
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return;
      if (st.st_size == 0 && ::ftruncate(fd.get(), sizeof(FileLayout)) != 0) return;
      if (st.st_size != 0 && st.st_size != static_cast<off_t>(sizeof(FileLayout))) {
        Replace(path);
        continue;
      }
      void* p = ::mmap(nullptr, sizeof(FileLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
      if (p == MAP_FAILED) return;
      auto* file = static_cast<FileLayout*>(p);
      // A new (zeroed) file: the first process to claim it writes the header.
      uint64_t expected = 0;
      if (__atomic_compare_exchange_n(&file->version, &expected, kVersion, false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&file->magic, kMagic, __ATOMIC_RELEASE);
      }
      if (__atomic_load_n(&file->version, __ATOMIC_ACQUIRE) == kVersion) {
        file_ = file;
        return;
      }
      ::munmap(p, sizeof(FileLayout));
      Replace(path);
    }
  }

  std::string data_dir_;
  FileLayout* file_ = nullptr;
};

}  // namespace


uint64_t HistogramData::Count() const {
  uint64_t count = 0;
  for (uint64_t b : buckets) count += b;
  return count;
}

void Add(const std::string& data_dir, Counter counter, uint64_t n) {
  FileLayout* file = Mapping::ForWriting(data_dir);
  if (file == nullptr || counter >= Counter::kCount) return;
  __atomic_fetch_add(&file->counters[static_cast<size_t>(counter)], n, __ATOMIC_RELAXED);
}

void Observe(const std::string& data_dir, Histogram histogram, double seconds) {
  FileLayout* file = Mapping::ForWriting(data_dir);
  if (file == nullptr || histogram >= Histogram::kCount || !(seconds >= 0)) return;
  FileHistogram& h = file->histograms[static_cast<size_t>(histogram)];
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) ++bucket;
  __atomic_fetch_add(&h.buckets[bucket], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&h.sum_us, static_cast<uint64_t>(std::llround(seconds * 1e6)), __ATOMIC_RELAXED);
}

void Set(const std::string& data_dir, Gauge gauge, int64_t value) {
  FileLayout* file = Mapping::ForWriting(data_dir);
  if (file == nullptr || gauge >= Gauge::kCount) return;
  __atomic_store_n(&file->gauges[static_cast<size_t>(gauge)], value, __ATOMIC_RELAXED);
}

Result<Snapshot> ReadCounters(const std::string& data_dir) {
  Snapshot snapshot;
  std::string path = DataDir(data_dir).Counters();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return snapshot;
    return Status::FromErrno(errno, "open " + path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (st.st_size != static_cast<off_t>(sizeof(FileLayout))) return snapshot;  // another release's layout
  void* p = ::mmap(nullptr, sizeof(FileLayout), PROT_READ, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return Status::FromErrno(errno, "mmap " + path);
  const auto* file = static_cast<const FileLayout*>(p);
  if (HeaderMatches(file)) {
    for (size_t i = 0; i < kCounters; ++i) snapshot.counters[i] = __atomic_load_n(&file->counters[i], __ATOMIC_RELAXED);
    for (size_t i = 0; i < kHistograms; ++i) {
      for (size_t b = 0; b < kBuckets; ++b) {
        snapshot.histograms[i].buckets[b] = __atomic_load_n(&file->histograms[i].buckets[b], __ATOMIC_RELAXED);
      }
      snapshot.histograms[i].sum_us = __atomic_load_n(&file->histograms[i].sum_us, __ATOMIC_RELAXED);
    }
    for (size_t i = 0; i < kGauges; ++i) snapshot.gauges[i] = __atomic_load_n(&file->gauges[i], __ATOMIC_RELAXED);
  }
  ::munmap(p, sizeof(FileLayout));
  return snapshot;
}

}  // namespace pushgate::metrics
