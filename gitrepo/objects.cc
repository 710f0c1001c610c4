#include "gitrepo/objects.h"

#include <cctype>

namespace pushgate {
namespace {

Status Malformed(std::string_view what, std::string_view why) {
  return Status::InvalidArgument("malformed " + std::string(what) + ": " + std::string(why));
}

Result<RawTreeEntry::Mode> ParseMode(std::string_view mode) {
  if (mode == "100644" || mode == "100664") return RawTreeEntry::Mode::kFile;
  if (mode == "100755") return RawTreeEntry::Mode::kExecutable;
  if (mode == "40000") return RawTreeEntry::Mode::kDirectory;
  if (mode == "120000") return RawTreeEntry::Mode::kSymlink;
  if (mode == "160000") return RawTreeEntry::Mode::kSubmodule;
  return Status::InvalidArgument("unsupported file mode " + std::string(mode.substr(0, 16)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsHexObjectId(std::string_view id) {
  if (id.size() != 2 * kObjectIdSize) return false;
  for (char c : id) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Each entry: "<octal mode> <name>\0<20 raw bytes>".
Status ParseTree(std::string_view raw, std::vector<RawTreeEntry>* entries) {
  entries->clear();
  while (!raw.empty()) {
    size_t space = raw.find(' ');
    if (space == std::string_view::npos || space > 6) return Malformed("tree", "an entry has no mode");
    PG_ASSIGN_OR_RETURN(RawTreeEntry::Mode mode, ParseMode(raw.substr(0, space)));
    raw.remove_prefix(space + 1);
    size_t nul = raw.find('\0');
    if (nul == std::string_view::npos) return Malformed("tree", "an entry's name is not terminated");
    if (nul == 0) return Malformed("tree", "an entry has an empty name");
    std::string_view name = raw.substr(0, nul);
    raw.remove_prefix(nul + 1);
    if (raw.size() < kObjectIdSize) return Malformed("tree", "an entry's object id is truncated");
    entries->push_back({mode, name, raw.substr(0, kObjectIdSize)});
    raw.remove_prefix(kObjectIdSize);
  }
  return Status::OK();
}

Result<ParsedCommit> ParseCommit(std::string_view raw) {
  ParsedCommit commit;
  bool have_committer = false;
  // Headers, up to the first empty line; a continuation line (a signature's)
  // starts with a space and is never empty.
  for (;;) {
    size_t eol = raw.find('\n');
    if (eol == std::string_view::npos) return Malformed("commit", "its headers do not end");
    std::string_view line = raw.substr(0, eol);
    raw.remove_prefix(eol + 1);
    if (line.empty()) break;
    if (line.substr(0, 5) == "tree " && commit.tree.empty()) {
      std::string_view id = line.substr(5);
      if (!IsHexObjectId(id)) return Malformed("commit", "its tree is not an object id");
      commit.tree = std::string(id);
      for (char& c : commit.tree) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (line.substr(0, 10) == "committer " && !have_committer) {
      // "committer NAME <EMAIL> SECONDS ZONE"; NAME and EMAIL may hold anything.
      size_t gt = line.rfind('>');
      if (gt == std::string_view::npos) return Malformed("commit", "its committer has no email");
      std::string_view when = Trim(line.substr(gt + 1));
      size_t space = when.find(' ');
      std::string_view seconds = when.substr(0, space);
      if (seconds.empty() || seconds.size() > 18) return Malformed("commit", "its committer has no time");
      int64_t t = 0;
      for (char c : seconds) {
        if (c < '0' || c > '9') return Malformed("commit", "its committer time is not a number");
        t = t * 10 + (c - '0');
      }
      commit.time = t;
      have_committer = true;
    }
  }
  if (commit.tree.empty()) return Malformed("commit", "it names no tree");
  if (!have_committer) return Malformed("commit", "it has no committer");
  // The summary: the first paragraph, leading blank lines skipped.
  while (!raw.empty()) {
    size_t eol = raw.find('\n');
    std::string_view line = Trim(raw.substr(0, eol));
    raw.remove_prefix(eol == std::string_view::npos ? raw.size() : eol + 1);
    if (line.empty()) {
      if (commit.summary.empty()) continue;
      break;
    }
    if (!commit.summary.empty()) commit.summary += ' ';
    commit.summary.append(line);
  }
  return commit;
}

}  // namespace pushgate
