// Helpers shared by pushgate's unit and end-to-end tests.
#ifndef PUSHGATE_TESTS_TESTING_TESTING_H_
#define PUSHGATE_TESTS_TESTING_TESTING_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "util/duration.h"
#include "util/process.h"

namespace pushgate::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& contents, mode_t mode = 0644);
std::string ReadFile(const std::string& path);

// The median column of a `hyperfine --export-csv` file, in ms, one per
// command, space-separated ("201.3 244.9"): what the benchmarks print.
std::string HyperfineMedians(const std::string& csv_path);

// True while `pid` runs or sleeps; a killed process that its (re)parent has
// not reaped yet is a zombie and counts as stopped (a container's init may
// never reap it).
bool IsRunning(pid_t pid);

// Whether a process holds the flock on `path`. Not being able to tell is a
// test failure, and reads as held, so that a wait for the lock fails too.
bool LockHeld(const std::string& path);

// Waits up to `limit` for the flock on `path` to be free.
bool LockFreedWithin(const std::string& path, Duration limit);

// Runs a system program (looked up in /usr/bin, /bin, ...) with argv and an
// environment made of a sane PATH/HOME plus `env`; returns output and status.
CapturedRun RunCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                const std::string& cwd = "", const std::string& stdin_data = "");

// Like Run but fails the current test (ADD_FAILURE) unless it exits 0.
std::string RunOk(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                  const std::string& cwd = "");

struct TestKey {
  std::string private_path;
  std::string public_line;  // "TYPE BASE64 COMMENT"
  std::string type;
  std::string blob;
  std::string sha256;  // as ssh-keygen -lf prints it
  std::string md5;     // "aa:bb:..." as ssh-keygen -E md5 -lf prints it (without "MD5:")
};

// Generates a key with ssh-keygen (type "ed25519", "rsa", "ecdsa"; bits 0 = default).
TestKey MakeKey(const std::string& dir, const std::string& name, const std::string& type = "ed25519",
                int bits = 0, const std::string& comment = "test@pushgate");

// Signs `key`'s public key with the CA `ca` (ssh-keygen -s -I ID), with
// more ssh-keygen arguments (-n principals, -V validity, -z serial,
// -O options). OpenSSH picks the certificate up as key.private_path +
// "-cert.pub"; returns the certificate's base64 blob, as on that line.
std::string SignUserKey(const TestKey& ca, const TestKey& key, const std::string& key_id,
                        const std::vector<std::string>& args);

// A non-bare work tree with git identity set and one commit of `files`
// (path -> contents). Returns the commit id.
std::string MakeRepoWithCommit(const std::string& dir, const std::map<std::string, std::string>& files,
                               const std::string& message = "initial");
std::string CommitFiles(const std::string& dir, const std::map<std::string, std::string>& files,
                        const std::string& message);

// The environment git needs in tests: fixed identity and dates, no user config.
std::map<std::string, std::string> GitEnv();

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_TESTING_TESTING_H_
