#include "tests/testing/testing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "util/fs.h"
#include "util/lock.h"

namespace pushgate::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pushgate-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
  }
  path_ = buf.data();
}

TempDir::~TempDir() { (void)RemoveTree(path_); }

void WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_TRUE(WriteAll(fd, contents).ok());
  ::fchmod(fd, mode);
  ::close(fd);
}

std::string ReadFile(const std::string& path) {
  Result<std::string> data = ReadSmallFile(path, 64 << 20);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? *data : std::string();
}

bool IsRunning(pid_t pid) {
  Result<std::string> data = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  if (!data.ok()) return false;
  size_t paren = data->rfind(')');
  return paren != std::string::npos && paren + 2 < data->size() && (*data)[paren + 2] != 'Z';
}

bool LockHeld(const std::string& path) {
  Result<bool> held = FileLock::IsHeld(path);
  if (!held.ok()) {
    ADD_FAILURE() << "cannot tell whether " << path << " is locked: " << held.status().ToString();
    return true;
  }
  return *held;
}

bool LockFreedWithin(const std::string& path, Duration limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (LockHeld(path)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ::usleep(20000);
  }
  return true;
}

CapturedRun RunCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                const std::string& cwd, const std::string& stdin_data) {
  SpawnSpec spec;
  if (!argv.empty() && argv.front().front() == '/') {
    spec.path = argv.front();
  } else {
    Result<std::string> path = FindSystemProgram(argv.front());
    if (!path.ok()) {
      ADD_FAILURE() << path.status().ToString();
      return {};
    }
    spec.path = *path;
  }
  spec.argv = argv;
  spec.cwd = cwd;
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/nonexistent", "LANG=C.UTF-8"};
  for (const auto& [k, v] : env) SetEnv(spec.env, k, v);
  Result<CapturedRun> run = RunAndCapture(spec, stdin_data);
  if (!run.ok()) {
    ADD_FAILURE() << "running " << argv.front() << ": " << run.status().ToString();
    return {};
  }
  return *run;
}

std::string RunOk(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                  const std::string& cwd) {
  CapturedRun run = RunCommand(argv, env, cwd);
  std::string joined;
  for (const std::string& a : argv) joined += a + " ";
  EXPECT_TRUE(run.status.success()) << joined << "-> " << run.status.Describe() << "\n" << run.output;
  return run.output;
}

std::string SignUserKey(const TestKey& ca, const TestKey& key, const std::string& key_id,
                        const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-s", ca.private_path, "-I", key_id};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(key.private_path + ".pub");
  RunOk(argv);
  std::istringstream fields(ReadFile(key.private_path + "-cert.pub"));
  std::string type, blob;
  fields >> type >> blob;
  return blob;
}

TestKey MakeKey(const std::string& dir, const std::string& name, const std::string& type, int bits,
                const std::string& comment) {
  TestKey key;
  key.private_path = dir + "/" + name;
  std::vector<std::string> argv = {"ssh-keygen", "-q", "-t", type, "-N", "", "-C", comment, "-f", key.private_path};
  if (bits > 0) {
    argv.push_back("-b");
    argv.push_back(std::to_string(bits));
  }
  RunOk(argv);
  key.public_line = ReadFile(key.private_path + ".pub");
  while (!key.public_line.empty() && key.public_line.back() == '\n') key.public_line.pop_back();
  std::istringstream fields(key.public_line);
  fields >> key.type >> key.blob;
  std::istringstream sha(RunOk({"ssh-keygen", "-l", "-f", key.private_path + ".pub"}));
  std::string bits_field;
  sha >> bits_field >> key.sha256;
  std::istringstream md5(RunOk({"ssh-keygen", "-l", "-E", "md5", "-f", key.private_path + ".pub"}));
  md5 >> bits_field >> key.md5;
  if (key.md5.rfind("MD5:", 0) == 0) key.md5 = key.md5.substr(4);
  return key;
}

std::map<std::string, std::string> GitEnv() {
  return {
      {"GIT_AUTHOR_NAME", "Test Author"},     {"GIT_AUTHOR_EMAIL", "author@example.com"},
      {"GIT_COMMITTER_NAME", "Test Author"},  {"GIT_COMMITTER_EMAIL", "author@example.com"},
      {"GIT_AUTHOR_DATE", "1700000000 +0000"}, {"GIT_COMMITTER_DATE", "1700000000 +0000"},
      {"GIT_CONFIG_NOSYSTEM", "1"},           {"GIT_CONFIG_GLOBAL", "/dev/null"},
  };
}

std::string CommitFiles(const std::string& dir, const std::map<std::string, std::string>& files,
                        const std::string& message) {
  for (const auto& [path, contents] : files) {
    std::string full = dir + "/" + path;
    EXPECT_TRUE(MakeDirs(DirName(full), 0755).ok());
    WriteFile(full, contents);
  }
  RunOk({"git", "add", "-A"}, GitEnv(), dir);
  RunOk({"git", "commit", "-q", "--allow-empty", "-m", message}, GitEnv(), dir);
  std::string id = RunOk({"git", "rev-parse", "HEAD"}, GitEnv(), dir);
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

std::string MakeRepoWithCommit(const std::string& dir, const std::map<std::string, std::string>& files,
                               const std::string& message) {
  EXPECT_TRUE(MakeDirs(dir, 0755).ok());
  RunOk({"git", "init", "-q", "-b", "main", dir}, GitEnv());
  return CommitFiles(dir, files, message);
}

std::string HyperfineMedians(const std::string& csv_path) {
  std::istringstream in(ReadFile(csv_path));
  std::string line, out;
  std::getline(in, line);  // the header: command,mean,stddev,median,...
  while (std::getline(in, line)) {
    size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1), d = line.find(',', c + 1);
    if (d == std::string::npos) continue;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", std::stod(line.substr(c + 1, d - c - 1)) * 1000);
    out += (out.empty() ? "" : " ") + std::string(buf);
  }
  return out;
}

}  // namespace pushgate::testing
