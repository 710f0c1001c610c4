// Raw tree and commit objects, as a push written around git's fsck can make
// them: the parsers never read past the input, every entry they accept has
// a mode git writes, a non-empty name without NUL and a 20-byte id lying
// inside the input, and an accepted commit names a 40-hex tree.
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "gitrepo/objects.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw = AsText(data, size);
  std::vector<pushgate::RawTreeEntry> entries;
  if (pushgate::ParseTree(raw, &entries).ok()) {
    size_t bytes = 0;
    for (const pushgate::RawTreeEntry& e : entries) {
      FUZZ_CHECK(!e.name.empty() && e.name.find('\0') == std::string_view::npos, "an entry's name");
      FUZZ_CHECK(e.id.size() == pushgate::kObjectIdSize, "an entry's id size");
      FUZZ_CHECK(e.name.data() >= raw.data() && e.id.data() + e.id.size() <= raw.data() + raw.size(),
                 "an entry outside the input");
      bytes += e.name.size() + 1 + e.id.size();
    }
    FUZZ_CHECK(bytes <= raw.size(), "entries longer than the input");
  }
  pushgate::Result<pushgate::ParsedCommit> commit = pushgate::ParseCommit(raw);
  if (commit.ok()) {
    FUZZ_CHECK(pushgate::IsHexObjectId(commit->tree), "a commit's tree id");
    FUZZ_CHECK(commit->time >= 0, "a commit's time");
    FUZZ_CHECK(commit->summary.find('\n') == std::string::npos, "a summary on one line");
  }
  return 0;
}
