// Small filesystem helpers with Status errors. All paths are absolute or
// relative to the working directory; nothing here follows a symlink it was
// asked not to.
#ifndef PUSHGATE_UTIL_FS_H_
#define PUSHGATE_UTIL_FS_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/status.h"

namespace pushgate {

// Reads a whole file that is expected to be small (config, tokens). Refuses
// files larger than `max_bytes` so a wrong path cannot exhaust memory.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

// Reads a file of any size in chunks, calling `chunk` for each.
Status ReadFileInChunks(const std::string& path, const std::function<void(std::string_view)>& chunk);

// Writes `data` to `fd` completely, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data);

// Replaces `path` with a file holding `data` (mode `mode`): written beside
// it under a temporary name, flushed, then renamed over it, so a reader sees
// the old content or the new, never part of it.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode);

// Writes every file of the file system holding the open file `fd` to disk
// (syncfs(2)): one call makes a whole tree just written durable, where an
// fsync per file would wait for the disk once per file. Since Linux 5.8 it
// also fails for write-back errors seen since `fd` was opened, so open it
// before writing what it is to make durable.
Status SyncFileSystem(int fd);

// Creates `path` and any missing parents with `mode`. Existing directories are fine.
Status MakeDirs(const std::string& path, mode_t mode);

// Removes a file or a directory tree. Never follows symlinks: a symlink is
// removed, not its target. Missing `path` is not an error. Uses a bounded
// number of descriptors whatever the depth of the tree.
Status RemoveTree(const std::string& path);

// Names in a directory, without "." and "..", sorted.
Result<std::vector<std::string>> ListDir(const std::string& path);

bool PathExists(const std::string& path);

// The working directory, for making an operator's relative path absolute.
Result<std::string> CurrentDirectory();

// Bytes available to an unprivileged user on the file system holding `path`.
Result<uint64_t> FreeBytes(const std::string& path);

// The directory of the running executable (from /proc/self/exe). pushgate's
// programs find each other and the hooks relative to it, so an installation
// works from any prefix.
Result<std::string> ExecutableDir();

// The directory part of `path` ("/a/b/c" -> "/a/b", "c" -> ".").
std::string DirName(std::string_view path);

// Joins two path parts with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace pushgate

#endif  // PUSHGATE_UTIL_FS_H_
