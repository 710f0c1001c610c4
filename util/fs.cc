#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace pushgate {

Status ReadFileInChunks(const std::string& path, const std::function<void(std::string_view)>& chunk) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + path);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) return Status::OK();
    chunk(std::string_view(buf, static_cast<size_t>(n)));
  }
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  std::string data;
  bool too_large = false;
  PG_RETURN_IF_ERROR(ReadFileInChunks(path, [&](std::string_view chunk) {
    too_large = too_large || data.size() + chunk.size() > max_bytes;
    if (!too_large) data += chunk;
  }));
  if (too_large) {
    return Status::InvalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::InvalidArgument("empty directory path");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "mkdir " + prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " exists and is not a directory");
  return Status::OK();
}

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

// Removes everything inside the directory open as `dirfd`.
Status RemoveContents(int dirfd, const std::string& display) {
  int fd = ::dup(dirfd);
  if (fd < 0) return Status::FromErrno(errno, "dup");
  UniqueDir dir(::fdopendir(fd));
  if (!dir) {
    ::close(fd);
    return Status::FromErrno(errno, "opendir " + display);
  }
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return Status::FromErrno(errno, "stat " + display + "/" + e->d_name);
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) return Status::FromErrno(errno, "open " + display + "/" + e->d_name);
      PG_RETURN_IF_ERROR(RemoveContents(child.get(), display + "/" + e->d_name));
      if (::unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        return Status::FromErrno(errno, "rmdir " + display + "/" + e->d_name);
      }
    } else if (::unlinkat(dirfd, e->d_name, 0) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "unlink " + display + "/" + e->d_name);
    }
  }
  return Status::OK();
}

}  // namespace

Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno(errno, "stat " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) return Status::FromErrno(errno, "open " + path);
    PG_RETURN_IF_ERROR(RemoveContents(dir.get(), path));
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "rmdir " + path);
    return Status::OK();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "unlink " + path);
  return Status::OK();
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  UniqueDir dir(::opendir(path.c_str()));
  if (!dir) return Status::FromErrno(errno, "opendir " + path);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::string> ExecutableDir() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return Status::FromErrno(errno, "readlink /proc/self/exe");
  return DirName(std::string_view(self, static_cast<size_t>(n)));
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() == '/') out.pop_back();
  if (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += '/';
  out += b;
  return out;
}

}  // namespace pushgate
