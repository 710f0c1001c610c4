// Git's object formats as `git cat-file` hands them over: the raw bytes of a
// tree or a commit, parsed without trusting them. A pushed tree can be
// written around git's fsck (`hash-object --literally`), so the parsers
// refuse anything malformed instead of guessing, and never read past the end.
#ifndef PUSHGATE_GITREPO_OBJECTS_H_
#define PUSHGATE_GITREPO_OBJECTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace pushgate {

inline constexpr size_t kObjectIdSize = 20;  // SHA-1, raw bytes

// One entry of a tree object, as stored. `name` is the stored bytes: it may
// be "..", contain '/', or repeat a sibling's name; deciding what is
// acceptable is the walk's and the policy's business.
struct RawTreeEntry {
  enum class Mode { kDirectory, kFile, kExecutable, kSymlink, kSubmodule };
  Mode mode;
  std::string_view name;
  std::string_view id;  // kObjectIdSize raw bytes
};

// Parses a tree object's contents. InvalidArgument for a truncated entry,
// an empty name, or a mode git does not write (100664, which old versions of
// git wrote for group-writable files, reads as 100644, as git itself does).
// The entries point into `raw`.
Status ParseTree(std::string_view raw, std::vector<RawTreeEntry>* entries);

struct ParsedCommit {
  std::string tree;     // 40 hex digits
  int64_t time = 0;     // committer time, unix seconds
  std::string summary;  // the message's first paragraph on one line
};

// Parses a commit object's contents: its "tree" header, its "committer"
// header's time, and the summary (lines of the first paragraph, trimmed,
// joined by spaces). InvalidArgument if either header is missing or malformed.
Result<ParsedCommit> ParseCommit(std::string_view raw);

// Whether `id` is 40 hex digits (either case).
bool IsHexObjectId(std::string_view id);

}  // namespace pushgate

#endif  // PUSHGATE_GITREPO_OBJECTS_H_
