#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
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

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + tmp);
  Status written = WriteAll(fd.get(), data);
  if (written.ok() && ::fsync(fd.get()) != 0) written = Status::FromErrno(errno, "fsync " + tmp);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) written = Status::FromErrno(errno, "rename " + tmp);
  if (!written.ok()) (void)::unlink(tmp.c_str());  // the error above is the one to report
  return written;
}

Status SyncFileSystem(int fd) {
  if (::syncfs(fd) != 0) return Status::FromErrno(errno, "syncfs");
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

// Removes everything inside the directory open as `root_fd`, depth first,
// without recursion and with at most two descriptors open at any depth: a
// pushed tree may be hundreds of levels deep, and an fd per level ran out of
// descriptors ("Too many open files") and left releases undeletable. The
// walk goes down with openat(O_NOFOLLOW) and back up through "..", checking
// that ".." is the directory it came from, so a directory renamed meanwhile
// cannot lead it anywhere else.
Status RemoveContents(int root_fd, const std::string& display) {
  struct Level {
    std::string name;  // this directory's name in its parent ("" for the root)
    dev_t dev;
    ino_t ino;
  };
  std::vector<Level> path;
  struct stat st;
  if (::fstat(root_fd, &st) != 0) return Status::FromErrno(errno, "stat " + display);
  path.push_back({"", st.st_dev, st.st_ino});
  UniqueFd current(::dup(root_fd));
  if (!current.valid()) return Status::FromErrno(errno, "dup");
  auto where = [&](std::string_view name) {
    std::string out = display;
    for (size_t i = 1; i < path.size(); ++i) out += "/" + path[i].name;
    if (!name.empty()) out += "/" + std::string(name);
    return out;
  };
  for (;;) {
    // Unlinks every non-directory here and stops at the first subdirectory.
    std::string subdir;
    {
      int fd = ::dup(current.get());
      if (fd < 0) return Status::FromErrno(errno, "dup");
      UniqueDir dir(::fdopendir(fd));
      if (!dir) {
        int err = errno;
        (void)::close(fd);  // the opendir error is the one to report
        return Status::FromErrno(err, "opendir " + where(""));
      }
      ::rewinddir(dir.get());
      while (struct dirent* e = ::readdir(dir.get())) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        if (::fstatat(current.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) continue;
          return Status::FromErrno(errno, "stat " + where(name));
        }
        if (S_ISDIR(st.st_mode)) {
          subdir = name;
          break;
        }
        if (::unlinkat(current.get(), e->d_name, 0) != 0 && errno != ENOENT) {
          return Status::FromErrno(errno, "unlink " + where(name));
        }
      }
    }
    if (!subdir.empty()) {
      UniqueFd child(::openat(current.get(), subdir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) return Status::FromErrno(errno, "open " + where(subdir));
      if (::fstat(child.get(), &st) != 0) return Status::FromErrno(errno, "stat " + where(subdir));
      path.push_back({std::move(subdir), st.st_dev, st.st_ino});
      current = std::move(child);
      continue;
    }
    if (path.size() == 1) return Status::OK();  // the root is empty
    UniqueFd parent(::openat(current.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent.valid()) return Status::FromErrno(errno, "open " + where(".."));
    const Level& expected = path[path.size() - 2];
    if (::fstat(parent.get(), &st) != 0) return Status::FromErrno(errno, "stat " + where(".."));
    if (st.st_dev != expected.dev || st.st_ino != expected.ino) {
      return Status::IOError(where("") + " was moved while it was being removed");
    }
    std::string name = std::move(path.back().name);
    path.pop_back();
    if (::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return Status::FromErrno(errno, "rmdir " + where(name));
    }
    current = std::move(parent);
  }
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

Result<std::string> CurrentDirectory() {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr) return Status::FromErrno(errno, "getcwd");
  return std::string(buf);
}

Result<uint64_t> FreeBytes(const std::string& path) {
  struct statvfs fs;
  if (::statvfs(path.c_str(), &fs) != 0) return Status::FromErrno(errno, "statvfs " + path);
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
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
