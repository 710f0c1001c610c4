#include "receive-hook/tree_policy.h"

#include <algorithm>
#include <vector>

#include "util/byte_size.h"
#include "util/names.h"

namespace pushgate {
namespace {

// Paths come from the pusher: shown printable and bounded.
std::string Shown(std::string_view path) { return Printable(path, 200); }

// The kernel gives up after 40 links in one resolution (ELOOP).
constexpr int kMaxLinkHops = 40;

void PushComponents(std::string_view path, std::vector<std::string_view>& out) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string_view>& parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

}  // namespace

TreeLimits TreeLimits::FromConfig(const Config& config) {
  return TreeLimits{config.push.max_file_size, config.push.max_release_size, config.push.max_tree_depth,
                    config.push.max_entries, config.deploy.allow_external_symlinks};
}

bool SymlinkEscapes(std::string_view link_path, std::string_view target,
                    const std::map<std::string, std::string, std::less<>>& links) {
  if (!target.empty() && target.front() == '/') return true;
  // Where the resolution stands: components from the release root.
  std::vector<std::string_view> at;
  size_t slash = link_path.rfind('/');
  if (slash != std::string_view::npos) PushComponents(link_path.substr(0, slash), at);
  // What is left to resolve, last component first (a stack).
  std::vector<std::string_view> todo;
  PushComponents(target, todo);
  std::reverse(todo.begin(), todo.end());
  int hops = 0;
  while (!todo.empty()) {
    std::string_view part = todo.back();
    todo.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (at.empty()) return true;
      at.pop_back();
      continue;
    }
    at.push_back(part);
    auto link = links.find(Join(at));
    if (link == links.end()) continue;  // a directory, a file or nothing: a plain name
    if (++hops > kMaxLinkHops) return false;
    const std::string& next = link->second;
    if (!next.empty() && next.front() == '/') return true;
    at.pop_back();  // the link is replaced by its target, relative to its directory
    std::vector<std::string_view> parts;
    PushComponents(next, parts);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  }
  return false;
}

Status TreeChecker::Visit(const TreeEntry& entry) {
  if (++summary_.entries > static_cast<uint64_t>(limits_.max_entries)) {
    return Status::InvalidArgument("it has more than push.max_entries (" + std::to_string(limits_.max_entries) +
                                   ") files, directories and links");
  }
  if (entry.depth > limits_.max_tree_depth) {
    return Status::InvalidArgument(Shown(entry.path) + " is " + std::to_string(entry.depth) +
                                   " levels deep, more than push.max_tree_depth (" +
                                   std::to_string(limits_.max_tree_depth) + ")");
  }
  switch (entry.kind) {
    case TreeEntry::Kind::kFile:
    case TreeEntry::Kind::kExecutable:
      if (entry.size > limits_.max_file_size) {
        return Status::InvalidArgument(Shown(entry.path) + " is " + FormatByteSize(entry.size) +
                                       ", more than push.max_file_size (" + FormatByteSize(limits_.max_file_size) +
                                       ")");
      }
      summary_.file_bytes += entry.size;
      if (summary_.file_bytes > limits_.max_release_size) {
        return Status::InvalidArgument("its files add up to more than push.max_release_size (" +
                                       FormatByteSize(limits_.max_release_size) + ")");
      }
      break;
    case TreeEntry::Kind::kSymlink:
      links_.emplace(std::string(entry.path), std::string(entry.link_target));
      break;
    case TreeEntry::Kind::kDirectory:
    case TreeEntry::Kind::kSubmodule: break;
  }
  return Status::OK();
}

Result<TreeSummary> TreeChecker::Finish() const {
  if (!limits_.allow_external_symlinks) {
    for (const auto& [path, target] : links_) {
      if (SymlinkEscapes(path, target, links_)) {
        return Status::InvalidArgument("the symlink " + Shown(path) + " points outside the app (to " +
                                       Shown(target) + "); make it relative to a path inside the repository" +
                                       " (the operator can allow it with deploy.allow_external_symlinks)");
      }
    }
  }
  return summary_;
}

Result<TreeSummary> CheckTree(const GitRepo& repo, const std::string& commit_id, const TreeLimits& limits,
                              const std::function<Status()>& checkpoint) {
  TreeChecker checker(limits);
  PG_RETURN_IF_ERROR(repo.WalkTree(commit_id, [&](const TreeEntry& entry) -> Status {
    if (checkpoint) PG_RETURN_IF_ERROR(checkpoint());
    return checker.Visit(entry);
  }));
  return checker.Finish();
}

}  // namespace pushgate
