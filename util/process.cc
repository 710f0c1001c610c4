#include "util/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

class SpawnFileActions {
 public:
  SpawnFileActions() { ok_ = ::posix_spawn_file_actions_init(&actions_) == 0; }
  ~SpawnFileActions() {
    if (ok_) ::posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  bool ok() const { return ok_; }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
  bool ok_ = false;
};

class SpawnAttr {
 public:
  SpawnAttr() { ok_ = ::posix_spawnattr_init(&attr_) == 0; }
  ~SpawnAttr() {
    if (ok_) ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  bool ok() const { return ok_; }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
  bool ok_ = false;
};

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// What a child started by CloneAndExec needs, prepared by the parent: the
// child shares the parent's memory until it execs, so it reads these and
// makes system calls, nothing else (no allocation, no locks).
struct ChildSetup {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // null: inherit
  int fds[3];       // stdin, stdout, stderr
  const int* keep_fds;
  size_t keep_count;
  bool new_process_group;
  bool killed_with_parent;
  pid_t parent;
  int err = 0;  // set by the child: the step or exec that failed
};

// Every signal's disposition back to the default and none blocked, as a
// new program starts; returns 0 or the errno of the mask's change. Not
// instrumented, as RunChild (below) calls it.
__attribute__((no_sanitize("address"))) int DefaultSignalsUnblocked() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    // Fails only for signals the kernel reserves (glibc's 32 and 33).
    if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &dfl, nullptr);
  }
  sigset_t empty;
  sigemptyset(&empty);
  return ::sigprocmask(SIG_SETMASK, &empty, nullptr) != 0 ? errno : 0;
}

// The child's side of CloneAndExec, on a stack of its own. Not instrumented
// by AddressSanitizer: its shadow bookkeeping would be written into the
// memory the parent shares, for a stack that is unmapped afterwards.
__attribute__((no_sanitize("address"))) int RunChild(void* arg) {
  ChildSetup& child = *static_cast<ChildSetup*>(arg);
  // Set by the parent too (below); whichever runs second may find it
  // done, so neither result is an error.
  if (child.new_process_group) (void)::setpgid(0, 0);
  if (child.killed_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != child.parent)) {
    ::_exit(127);  // parent already gone
  }
  // The first setup step that fails is reported instead of running the
  // child with descriptors it should not have.
  int err = 0;
  for (int target = 0; target < 3 && err == 0; ++target) {
    int source = child.fds[target];
    int rc = source == target ? ::fcntl(target, F_SETFD, 0) : ::dup2(source, target);
    if (rc < 0) err = errno;
  }
  if (err == 0 && ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) err = errno;
  for (size_t i = 0; i < child.keep_count && err == 0; ++i) {
    if (::fcntl(child.keep_fds[i], F_SETFD, 0) != 0) err = errno;
  }
  if (err == 0 && child.cwd != nullptr && ::chdir(child.cwd) != 0) err = errno;
  // The parent's handlers are not the child's (no CLONE_SIGHAND), and every
  // signal is blocked until here, so none runs a parent's handler in the
  // shared memory.
  if (err == 0) err = DefaultSignalsUnblocked();
  if (err == 0) {
    ::execve(child.path, child.argv, child.envp);
    err = errno;
  }
  child.err = err;
  ::_exit(127);
}

// Spawn for what posix_spawn cannot express (killed_with_parent, keep_fds):
// a child that shares our memory and suspends us until it execs
// (CLONE_VM | CLONE_VFORK, as posix_spawn itself does), so starting git
// copies no page table of ours and takes no copy-on-write fault. It sets
// itself up the same way (stdio, no other descriptors but the kept ones,
// cwd, default signals, process group), with PR_SET_PDEATHSIG if asked,
// then execs; a failure comes back in the shared ChildSetup.
Result<pid_t> CloneAndExec(const SpawnSpec& spec, const int (&stdio)[3], char* const* argv, char* const* envp) {
  ChildSetup child{spec.path.c_str(),
                   argv,
                   envp,
                   spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
                   {stdio[0], stdio[1], stdio[2]},
                   spec.keep_fds.data(),
                   spec.keep_fds.size(),
                   spec.new_process_group,
                   spec.killed_with_parent,
                   ::getpid()};
  constexpr size_t kChildStack = 64 * 1024;
  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Status::FromErrno(errno, "allocate a stack to run " + spec.path);
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous);
  pid_t pid = ::clone(RunChild, static_cast<char*>(stack) + kChildStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::munmap(stack, kChildStack);
  if (pid < 0) return Status::FromErrno(clone_errno, "start " + spec.path);
  // Also here, so the group exists before the caller can signal it.
  if (spec.new_process_group) (void)::setpgid(pid, pid);
  if (child.err != 0) {
    (void)WaitForExit(pid);
    return Status::FromErrno(child.err, "run " + spec.path);
  }
  return pid;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (exited) return "exit status " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

Result<pid_t> Spawn(const SpawnSpec& spec) {
  if (spec.path.empty() || spec.path.front() != '/') {
    return Status::InvalidArgument("refusing to run '" + spec.path + "': not an absolute path");
  }
  if (spec.argv.empty()) return Status::InvalidArgument("empty argv for " + spec.path);

  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull.valid()) return Status::FromErrno(errno, "open /dev/null");
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  for (int fd : spec.keep_fds) {
    if (fd < 3) return Status::InvalidArgument("keep_fds holds a standard descriptor");
  }
  // The child's stdin, stdout and stderr: /dev/null where none is given.
  int stdio[3] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
  for (int& fd : stdio) fd = fd >= 0 ? fd : devnull.get();
  if (spec.killed_with_parent || !spec.keep_fds.empty()) {
    return CloneAndExec(spec, stdio, argv.data(), envp.data());
  }

  SpawnFileActions actions;
  SpawnAttr attr;
  if (!actions.ok() || !attr.ok()) return Status::ResourceExhausted("posix_spawn setup failed");

  // Each step returns 0 or an errno value; the first failure stops the
  // spawn, so that the child never runs with less isolation than promised.
  int setup_err = 0;
  auto step = [&setup_err](int rc) {
    if (setup_err == 0) setup_err = rc;
  };
  for (int target = 0; target < 3; ++target) {
    step(::posix_spawn_file_actions_adddup2(actions.get(), stdio[target], target));
  }
  // Nothing but stdio crosses into the child: no lock, socket or pipe of ours.
  step(::posix_spawn_file_actions_addclosefrom_np(actions.get(), 3));
  if (!spec.cwd.empty()) step(::posix_spawn_file_actions_addchdir_np(actions.get(), spec.cwd.c_str()));

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty;
  sigemptyset(&empty);
  step(::posix_spawnattr_setsigmask(attr.get(), &empty));
  // Signals we ignore or handle (SIGPIPE, SIGTERM, ...) start at their defaults in the child.
  sigset_t defaults;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  step(::posix_spawnattr_setsigdefault(attr.get(), &defaults));
  if (spec.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    step(::posix_spawnattr_setpgroup(attr.get(), 0));
  }
  step(::posix_spawnattr_setflags(attr.get(), flags));
  if (setup_err != 0) return Status::FromErrno(setup_err, "prepare to run " + spec.path);

  pid_t pid = -1;
  int err = ::posix_spawn(&pid, spec.path.c_str(), actions.get(), attr.get(), argv.data(), envp.data());
  if (err != 0) return Status::FromErrno(err, "run " + spec.path);
  return pid;
}

Status ExecReplacing(const SpawnSpec& spec, std::vector<int> keep_fds) {
  if (spec.path.empty() || spec.path.front() != '/') {
    return Status::InvalidArgument("refusing to run '" + spec.path + "': not an absolute path");
  }
  if (spec.argv.empty()) return Status::InvalidArgument("empty argv for " + spec.path);
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) return Status::FromErrno(errno, "chdir " + spec.cwd);
  std::sort(keep_fds.begin(), keep_fds.end());
  unsigned next = 3;  // the lowest descriptor not yet closed or kept
  for (int fd : keep_fds) {
    if (fd < static_cast<int>(next)) continue;
    if (static_cast<unsigned>(fd) > next && ::close_range(next, static_cast<unsigned>(fd) - 1, 0) != 0) {
      return Status::FromErrno(errno, "close descriptors before running " + spec.path);
    }
    next = static_cast<unsigned>(fd) + 1;
  }
  if (::close_range(next, ~0U, 0) != 0) return Status::FromErrno(errno, "close descriptors before running " + spec.path);
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  ::execve(spec.path.c_str(), argv.data(), envp.data());
  return Status::FromErrno(errno, "run " + spec.path);
}

ExitStatus ExitStatusFromWait(int wstatus) {
  ExitStatus st;
  if (WIFEXITED(wstatus)) {
    st.exited = true;
    st.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    st.signal = WTERMSIG(wstatus);
  }
  return st;
}

Result<ExitStatus> WaitForExit(pid_t pid) {
  int wstatus = 0;
  for (;;) {
    if (::waitpid(pid, &wstatus, 0) >= 0) break;
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid");
  }
  return ExitStatusFromWait(wstatus);
}

Result<std::optional<ExitStatus>> WaitForExitUntil(pid_t pid, Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // A pidfd becomes readable when the process exits: one poll, no signals.
  // (The raw syscall: glibc 2.36's <sys/pidfd.h> lacks C++ linkage guards.)
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (;;) {
    int wstatus = 0;
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return std::optional<ExitStatus>(ExitStatusFromWait(wstatus));
    if (r < 0 && errno != EINTR) return Status::FromErrno(errno, "waitpid");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<ExitStatus>();
    if (pidfd.valid()) {
      struct pollfd pfd = {pidfd.get(), POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(left.count()));
    } else {
      struct timespec ts = {0, 2000000};  // kernels without pidfd: poll every 2 ms
      ::nanosleep(&ts, nullptr);
    }
  }
}

Status RunDetached(const std::function<void()>& work) {
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid > 0) return Status::OK();
  // The caller's handlers (a hook's SIGTERM flag) mean nothing here.
  if (DefaultSignalsUnblocked() != 0) ::_exit(1);
  (void)::setsid();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) ::_exit(1);
  for (int fd = 0; fd <= 2; ++fd) {
    if (::dup2(null_fd, fd) < 0) ::_exit(1);
  }
  if (::close_range(3, ~0U, 0) != 0) ::_exit(1);
  work();
  ::_exit(0);
}

Result<CapturedRun> RunAndCapture(SpawnSpec spec, const std::string& stdin_data) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  int in_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd in_read(in_pipe[0]), in_write(in_pipe[1]);
  // Our end only: the child's stdin stays blocking.
  if (::fcntl(in_write.get(), F_SETFL, O_NONBLOCK) != 0) return Status::FromErrno(errno, "fcntl O_NONBLOCK");

  spec.stdin_fd = in_read.get();
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = out_write.get();
  PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
  in_read.Reset();
  out_write.Reset();

  // Feed stdin and drain stdout together so neither side can block the other
  // (a child may exit without reading its input).
  SigpipeBlocker no_sigpipe;
  size_t written = 0;
  if (stdin_data.empty()) in_write.Reset();
  CapturedRun run;
  char buf[65536];
  while (out_read.valid()) {
    struct pollfd pfds[2] = {{out_read.get(), POLLIN, 0}, {in_write.get(), POLLOUT, 0}};
    nfds_t n = in_write.valid() ? 2 : 1;
    if (::poll(pfds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 2 && (pfds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_write.get(), stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdin_data.size();
      if (written == stdin_data.size()) in_write.Reset();
    }
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::read(out_read.get(), buf, sizeof buf);
      if (r > 0) {
        run.output.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        out_read.Reset();
      }
    }
  }
  in_write.Reset();
  PG_ASSIGN_OR_RETURN(run.status, WaitForExit(pid));
  return run;
}

bool ProcessGroupRuns(pid_t pgid) {
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  UniqueDir proc(::opendir("/proc"));
  if (!proc) return true;
  while (struct dirent* entry = ::readdir(proc.get())) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    Result<std::string> stat = ReadSmallFile(std::string("/proc/") + entry->d_name + "/stat", 4096);
    if (!stat.ok()) continue;  // ended meanwhile
    // "PID (COMM) STATE PPID PGRP ...": COMM may hold anything, so parse after its last ')'.
    size_t paren = stat->rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (std::sscanf(stat->c_str() + paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z') return true;
  }
  return false;
}

ExitStatus StopProcessGroup(pid_t leader, Duration grace, std::optional<ExitStatus> reaped) {
  (void)::kill(-leader, SIGTERM);  // ESRCH: the group has ended already
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!reaped) {
      Result<std::optional<ExitStatus>> ended = WaitForExitUntil(leader, Duration(0));
      if (ended.ok() && ended->has_value()) reaped = **ended;
    }
    if (reaped && !ProcessGroupRuns(leader)) return *reaped;
    ::usleep(20000);
  }
  (void)::kill(-leader, SIGKILL);
  if (reaped) return *reaped;
  Result<ExitStatus> killed = WaitForExit(leader);
  return killed.ok() ? *killed : ExitStatus{};
}

SigpipeBlocker::SigpipeBlocker() {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  (void)::pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask_);  // fails only for a bad `how`
}

SigpipeBlocker::~SigpipeBlocker() {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  struct timespec zero = {0, 0};
  while (::sigtimedwait(&sigpipe, nullptr, &zero) == SIGPIPE) {
  }
  (void)::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

Result<std::string> FindSystemProgram(const std::string& name) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string path = JoinPath(dir, name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return Status::NotFound(name + " is not installed in /usr/bin, /bin, /usr/sbin or /sbin");
}

void SetEnv(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::string prefix = name + "=";
  for (std::string& entry : env) {
    if (entry.compare(0, prefix.size(), prefix) == 0) {
      entry = prefix + value;
      return;
    }
  }
  env.push_back(prefix + value);
}

long PeakRssKb() {
  Result<std::string> status = ReadSmallFile("/proc/self/status", 64 * 1024);
  if (!status.ok()) return 0;
  size_t at = status->find("\nVmHWM:");
  if (at == std::string::npos) return 0;
  return std::strtol(status->c_str() + at + 7, nullptr, 10);
}

}  // namespace pushgate
