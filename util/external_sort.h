// ExternalSorter: sorts more key-value pairs than should be held in memory.
//
// Pairs are buffered up to a bound, sorted, and spilled as a run to one
// unlinked temporary file; Merge reads the runs back together. Memory stays
// at the bound plus a small buffer per run, whatever the number of pairs.
// A full resync of the key cache uses it to write its tables in key order.
#ifndef PUSHGATE_UTIL_EXTERNAL_SORT_H_
#define PUSHGATE_UTIL_EXTERNAL_SORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/status.h"

namespace pushgate {

class ExternalSorter {
 public:
  // Runs of about `run_bytes` of pairs are spilled to a file made in `dir`.
  ExternalSorter(std::string dir, size_t run_bytes) : dir_(std::move(dir)), run_bytes_(run_bytes) {}

  Status Add(std::string_view key, std::string_view value);

  // Visits every key once, in byte order, with the value added last for it.
  // Call once, after the last Add.
  Status Merge(const std::function<Status(std::string_view key, std::string_view value)>& visit);

  size_t runs_spilled() const { return runs_.size(); }

 private:
  struct Entry {
    size_t offset;  // of the key in buffer_; the value follows it
    uint32_t key_size;
    uint32_t value_size;
  };
  struct Run {
    uint64_t begin;
    uint64_t end;
  };
  std::string_view KeyOf(const Entry& e) const { return std::string_view(buffer_).substr(e.offset, e.key_size); }
  std::string_view ValueOf(const Entry& e) const {
    return std::string_view(buffer_).substr(e.offset + e.key_size, e.value_size);
  }
  // Sorts the buffer by key, keeping the order of addition among equal keys,
  // and visits each key with its last value.
  Status VisitBuffer(const std::function<Status(std::string_view, std::string_view)>& visit);
  Status Spill();

  std::string dir_;
  size_t run_bytes_;
  std::string buffer_;
  std::vector<Entry> entries_;
  UniqueFd file_;
  uint64_t file_size_ = 0;
  std::vector<Run> runs_;
};

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_EXTERNAL_SORT_H_
