#include "util/external_sort.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <queue>

#include "util/fs.h"

namespace pushgate {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((v >> shift) & 0xFF);
}

uint32_t GetU32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}

// Reads one spilled run's pairs (key size, value size, key, value) in order
// through a buffer that grows to the largest pair.
class RunReader {
 public:
  RunReader(int fd, uint64_t begin, uint64_t end) : fd_(fd), next_read_(begin), end_(end) {}

  // Moves to the next pair; false at the end of the run.
  Result<bool> Next() {
    consumed_ += pair_size_;
    pair_size_ = 0;
    if (next_read_ == end_ && consumed_ == window_.size()) return false;
    PG_RETURN_IF_ERROR(Fill(8));
    uint32_t key_size = GetU32(std::string_view(window_).substr(consumed_));
    uint32_t value_size = GetU32(std::string_view(window_).substr(consumed_ + 4));
    size_t size = 8 + size_t{key_size} + value_size;
    PG_RETURN_IF_ERROR(Fill(size));
    std::string_view pair = std::string_view(window_).substr(consumed_, size);
    key_ = pair.substr(8, key_size);
    value_ = pair.substr(8 + key_size);
    pair_size_ = size;
    return true;
  }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

 private:
  static constexpr size_t kReadSize = 64 << 10;

  // Makes `size` bytes from the current pair on available in the window.
  Status Fill(size_t size) {
    if (window_.size() - consumed_ >= size) return Status::OK();
    window_.erase(0, consumed_);
    consumed_ = 0;
    while (window_.size() < size) {
      uint64_t want = std::min<uint64_t>(std::max(kReadSize, size - window_.size()), end_ - next_read_);
      if (want == 0) return Status::Corruption("a sort run ends inside a pair");
      size_t old = window_.size();
      window_.resize(old + want);
      ssize_t n = ::pread(fd_, window_.data() + old, want, static_cast<off_t>(next_read_));
      if (n <= 0) return n < 0 ? Status::FromErrno(errno, "read a sort run") : Status::IOError("a sort run is short");
      window_.resize(old + static_cast<size_t>(n));
      next_read_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  int fd_;
  uint64_t next_read_;
  uint64_t end_;
  std::string window_;
  size_t consumed_ = 0;   // bytes of window_ before the current pair
  size_t pair_size_ = 0;  // the current pair's size, consumed by the next Next()
  std::string_view key_;
  std::string_view value_;
};

}  // namespace

Status ExternalSorter::Add(std::string_view key, std::string_view value) {
  if (buffer_.capacity() < run_bytes_) buffer_.reserve(run_bytes_);
  entries_.push_back(Entry{buffer_.size(), static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())});
  buffer_ += key;
  buffer_ += value;
  if (buffer_.size() + entries_.size() * sizeof(Entry) >= run_bytes_) return Spill();
  return Status::OK();
}

Status ExternalSorter::VisitBuffer(const std::function<Status(std::string_view, std::string_view)>& visit) {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [this](const Entry& a, const Entry& b) { return KeyOf(a) < KeyOf(b); });
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i + 1 < entries_.size() && KeyOf(entries_[i + 1]) == KeyOf(entries_[i])) continue;  // a later one wins
    PG_RETURN_IF_ERROR(visit(KeyOf(entries_[i]), ValueOf(entries_[i])));
  }
  entries_.clear();
  buffer_.clear();
  return Status::OK();
}

Status ExternalSorter::Spill() {
  if (!file_.valid()) {
    std::string path = dir_ + "/.sort.XXXXXX";
    file_.Reset(::mkostemp(path.data(), O_CLOEXEC));
    if (!file_.valid()) return Status::FromErrno(errno, "create a sort file in " + dir_);
    // Unlinked at once: a killed process leaves nothing behind.
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "unlink " + path);
  }
  Run run{file_size_, file_size_};
  std::string out;
  auto flush = [&]() -> Status {
    PG_RETURN_IF_ERROR(WriteAll(file_.get(), out));
    run.end += out.size();
    out.clear();
    return Status::OK();
  };
  PG_RETURN_IF_ERROR(VisitBuffer([&](std::string_view key, std::string_view value) -> Status {
    PutU32(out, static_cast<uint32_t>(key.size()));
    PutU32(out, static_cast<uint32_t>(value.size()));
    out += key;
    out += value;
    return out.size() >= (1 << 20) ? flush() : Status::OK();
  }));
  PG_RETURN_IF_ERROR(flush());
  file_size_ = run.end;
  runs_.push_back(run);
  return Status::OK();
}

Status ExternalSorter::Merge(const std::function<Status(std::string_view, std::string_view)>& visit) {
  if (runs_.empty()) return VisitBuffer(visit);
  if (!entries_.empty()) PG_RETURN_IF_ERROR(Spill());
  std::vector<RunReader> readers;
  readers.reserve(runs_.size());
  for (const Run& run : runs_) readers.emplace_back(file_.get(), run.begin, run.end);
  // The smallest key on top; among equal keys, the later run (added later).
  auto later = [&](size_t a, size_t b) {
    int order = readers[a].key().compare(readers[b].key());
    return order != 0 ? order > 0 : a < b;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heads(later);
  for (size_t i = 0; i < readers.size(); ++i) {
    PG_ASSIGN_OR_RETURN(bool has, readers[i].Next());
    if (has) heads.push(i);
  }
  std::vector<size_t> same;
  while (!heads.empty()) {
    size_t winner = heads.top();
    heads.pop();
    same.assign(1, winner);
    while (!heads.empty() && readers[heads.top()].key() == readers[winner].key()) {
      winner = std::max(winner, heads.top());
      same.push_back(heads.top());
      heads.pop();
    }
    PG_RETURN_IF_ERROR(visit(readers[winner].key(), readers[winner].value()));
    for (size_t i : same) {
      PG_ASSIGN_OR_RETURN(bool has, readers[i].Next());
      if (has) heads.push(i);
    }
  }
  return Status::OK();
}

}  // namespace pushgate
