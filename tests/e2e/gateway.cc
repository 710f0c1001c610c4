#include "tests/e2e/gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "util/fd.h"
#include "util/fs.h"
#include "util/random_id.h"

namespace pushgate::testing {

int FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

FrontEnd SuiteFrontEnd() {
  const char* value = std::getenv("PUSHGATE_E2E_FRONT_END");
  return value != nullptr && std::string_view(value) == "pushgate-sshd" ? FrontEnd::kPushgateSshd
                                                                        : FrontEnd::kOpenSsh;
}

namespace {

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

bool CanConnect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// The git user sshd logs in as; created once per machine, like an operator would.
bool EnsureGitUser() {
  if (::getpwnam(Gateway::kGitUser) == nullptr) {
    CapturedRun add = RunCommand({"useradd", "--system", "--shell", "/bin/sh", "--home-dir",
                           std::string("/var/lib/") + Gateway::kGitUser, "--create-home", Gateway::kGitUser});
    if (!add.status.success() && ::getpwnam(Gateway::kGitUser) == nullptr) {
      ADD_FAILURE() << "useradd: " << add.output;
      return false;
    }
  }
  // '*' instead of useradd's locked '!': no password can match, and sshd
  // does not treat the account as locked.
  return RunCommand({"usermod", "-p", "*", Gateway::kGitUser}).status.success();
}

}  // namespace

std::unique_ptr<Gateway> Gateway::Start(const GatewayOptions& options) {
  if (::geteuid() != 0) {
    ADD_FAILURE() << "the end-to-end tests run sshd and need root; run scripts/test as root or with sudo";
    return nullptr;
  }
  std::unique_ptr<Gateway> g(new Gateway);
  g->build_dir_ = PUSHGATE_BUILD_DIR;
  g->front_end_ = options.front_end;
  if (!EnsureGitUser() || !g->Install(options) || !g->StartSshd({})) return nullptr;
  return g;
}

bool Gateway::Install(const GatewayOptions& options) {
  app_build_steps_ = options.app_build_steps;
  if (!MakeDirs("/opt", 0755).ok()) return false;
  prefix_ = "/opt/pushgate-e2e-" + RandomHex(4);
  if (::mkdir(prefix_.c_str(), 0755) != 0) {
    ADD_FAILURE() << "mkdir " << prefix_;
    return false;
  }
  ::chmod(prefix_.c_str(), 0755);
  CapturedRun install = RunCommand({CMAKE_COMMAND, "--install", build_dir_, "--prefix", prefix_});
  if (!install.status.success()) {
    ADD_FAILURE() << "cmake --install failed:\n" << install.output;
    return false;
  }

  struct passwd* pw = ::getpwnam(kGitUser);
  data_dir_ = "/tmp/pushgate-e2e-data-" + RandomHex(4);
  if (::mkdir(data_dir_.c_str(), 0750) != 0 || ::chown(data_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    ADD_FAILURE() << "cannot create " << data_dir_;
    return false;
  }
  if (options.data_dir_tmpfs_mb > 0) {
    std::string mount_options = "size=" + std::to_string(options.data_dir_tmpfs_mb) + "m,mode=0750,uid=" +
                                std::to_string(pw->pw_uid) + ",gid=" + std::to_string(pw->pw_gid);
    CapturedRun mount = RunCommand({"mount", "-t", "tmpfs", "-o", mount_options, "tmpfs", data_dir_});
    if (!mount.status.success()) {
      ADD_FAILURE() << "mount tmpfs on " << data_dir_ << ": " << mount.output;
      return false;
    }
    data_dir_mounted_ = true;
  }
  client_home_ = data_dir_ + "-client";
  if (Status made = MakeDirs(client_home_, 0700); !made.ok()) {
    ADD_FAILURE() << made.ToString();
    return false;
  }

  // The build command: the bundled deploy, after the app's own build steps
  // if a test set some (SetBuild), so one gateway serves every scenario.
  // Root-owned, like an operator's.
  std::string builds = prefix_ + "/libexec/pushgate-test";
  if (Status made = MakeDirs(builds + "/apps", 0755); !made.ok()) {
    ADD_FAILURE() << made.ToString();
    return false;
  }
  WriteFile(builds + "/build",
            !options.build_script.empty() ? "#!/bin/sh\n" + options.build_script :
            "#!/bin/sh\n"
            "steps=" + builds + "/apps/$PUSHGATE_APP\n"
            "if [ -f \"$steps\" ]; then . \"$steps\"; fi\n"
            "exec " + prefix_ + "/libexec/pushgate/pushgate-deploy\n",
            0755);

  config_path_ = prefix_ + "/etc/pushgate.toml";
  if (Status made = MakeDirs(prefix_ + "/etc", 0755); !made.ok()) {
    ADD_FAILURE() << made.ToString();
    return false;
  }
  if (!options.extra_sshd_config.empty()) {
    extra_sshd_config_path_ = prefix_ + "/etc/sshd-extra.conf";
    WriteFile(extra_sshd_config_path_, options.extra_sshd_config, 0644);
  }
  std::string mode = "mode = \"standalone\"\n";
  std::string controller;
  if (!options.controller_url.empty()) {
    // The token is a secret: readable by root and the git user only.
    std::string token = prefix_ + "/etc/controller-token";
    WriteFile(token, options.controller_token + "\n", 0640);
    if (::chown(token.c_str(), 0, pw->pw_gid) != 0) ADD_FAILURE() << "chown " << token;
    mode = "mode = \"controller\"\n";
    controller = "[controller]\nurl = \"" + options.controller_url + "\"\ntoken_file = \"" + token + "\"\n";
    if (!options.controller_connect_timeout.empty()) {
      controller += "connect_timeout = \"" + options.controller_connect_timeout + "\"\n";
    }
    if (!options.controller_timeout.empty()) {
      controller += "timeout = \"" + options.controller_timeout + "\"\n";
    }
  }
  WriteFile(config_path_,
            mode +
            "data_dir = \"" + data_dir_ + "\"\n"
            "git_user = \"" + kGitUser + "\"\n"
            "[build]\n" +
            // Controller mode's pushgate driver builds on the controller;
            // everything else runs the test build script.
            (options.controller_url.empty() ? "" : "driver = \"" + options.build_driver + "\"\n") +
            ((options.controller_url.empty() || options.build_driver != "pushgate") &&
                     (options.app_build_steps || !options.build_script.empty()) &&
                     options.build_options.find("command =") == std::string::npos
                 ? "command = \"" + builds + "/build\"\n"
                 : "") +
            (options.build_options.find("timeout =") == std::string::npos ? "timeout = \"60s\"\n" : "") +
            ReplaceAll(options.build_options, "@PREFIX@", prefix_) +
            "[log]\n"
            "destination = \"" + data_dir_ + "/pushgate.log\"\n"
            "level = \"debug\"\n" + controller + options.extra_config,
            0644);
  return true;
}

std::map<std::string, std::string> Gateway::EntrypointEnv() const {
  return {{"PUSHGATE_CONFIG", config_path_},
          {"PUSHGATE_SSH_LISTEN", "127.0.0.1"},
          {"PUSHGATE_SSH_PORT", std::to_string(port_)},
          {"PUSHGATE_HOST_KEY_DIR", host_key_dir()},
          {"PUSHGATE_RUN_DIR", prefix_ + "/run"},
          {"PUSHGATE_SSHD_INCLUDE", extra_sshd_config_path_}};
}

// sshd comes up the way the container image brings it up: through the
// installed pushgate-entrypoint, which checks the config, fixes data_dir's
// owner, makes host keys once, renders the shipped templates and execs
// `sshd -D -e`. Its stderr (the entrypoint's and sshd's) goes to sshd.log.
bool Gateway::StartSshd(const std::map<std::string, std::string>& extra_env) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreeLoopbackPort();
    const char* component = front_end_ == FrontEnd::kOpenSsh ? "gateway" : "sshd";
    SpawnSpec spec{prefix_ + "/libexec/pushgate/pushgate-entrypoint",
                   {"pushgate-entrypoint", component},
                   {"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, -1, -1, -1, false, ""};
    for (const auto& [k, v] : EntrypointEnv()) SetEnv(spec.env, k, v);
    for (const auto& [k, v] : extra_env) SetEnv(spec.env, k, v);
    UniqueFd log(::open(sshd_log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    spec.stdout_fd = log.get();
    spec.stderr_fd = log.get();
    Result<pid_t> pid = Spawn(spec);
    if (!pid.ok()) {
      ADD_FAILURE() << pid.status().ToString();
      return false;
    }
    sshd_pid_ = *pid;
    // Generous: the first start also makes an RSA host key.
    for (int i = 0; i < 1200; ++i) {
      if (CanConnect(port_)) return true;
      int status;
      if (::waitpid(sshd_pid_, &status, WNOHANG) == sshd_pid_) {
        sshd_pid_ = -1;
        // A config the entrypoint refuses will not get better; a port taken
        // meanwhile might.
        if (ReadFile(sshd_log_path()).find("Address already in use") == std::string::npos) {
          ADD_FAILURE() << "pushgate-entrypoint exited:\n" << Logs();
          return false;
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (sshd_pid_ > 0) StopSshd();
  }
  ADD_FAILURE() << "sshd did not start:\n" << Logs();
  return false;
}

void Gateway::StopSshd() {
  if (sshd_pid_ <= 0) return;
  ::kill(sshd_pid_, SIGTERM);
  ::waitpid(sshd_pid_, nullptr, 0);
  sshd_pid_ = -1;
}

std::optional<ExitStatus> Gateway::StopSshdWithin(std::chrono::seconds timeout) {
  if (sshd_pid_ <= 0) return std::nullopt;
  ::kill(sshd_pid_, SIGTERM);
  Result<std::optional<ExitStatus>> exited = WaitForExitUntil(sshd_pid_, timeout);
  if (!exited.ok() || !exited->has_value()) {
    ::kill(sshd_pid_, SIGKILL);
    ::waitpid(sshd_pid_, nullptr, 0);
    sshd_pid_ = -1;
    return std::nullopt;
  }
  sshd_pid_ = -1;
  return **exited;
}

std::vector<Gateway::ServerProcess> Gateway::ServerProcesses() const {
  const struct passwd* pw = ::getpwnam(kGitUser);
  std::map<pid_t, std::vector<pid_t>> children;
  std::map<pid_t, std::string> names;
  std::set<pid_t> git_user_processes;
  Result<std::vector<std::string>> proc = ListDir("/proc");
  if (!proc.ok()) return {};
  for (const std::string& entry : *proc) {
    if (entry.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/PID/stat: "PID (COMM) STATE PPID ..."; COMM may hold spaces
    // and parentheses, so the last ')' ends it.
    Result<std::string> stat = ReadSmallFile("/proc/" + entry + "/stat");
    if (!stat.ok()) continue;  // exited meanwhile
    size_t open = stat->find('('), close = stat->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > stat->size()) continue;
    pid_t pid = std::stoi(entry);
    pid_t parent = std::atoi(stat->c_str() + close + 4);
    names[pid] = stat->substr(open + 1, close - open - 1);
    children[parent].push_back(pid);
    struct stat st;
    if (pw != nullptr && ::stat(("/proc/" + entry).c_str(), &st) == 0 && st.st_uid == pw->pw_uid) {
      git_user_processes.insert(pid);
    }
  }
  std::set<pid_t> found;
  std::vector<pid_t> todo = children[sshd_pid_];
  todo.insert(todo.end(), git_user_processes.begin(), git_user_processes.end());
  while (!todo.empty()) {
    pid_t pid = todo.back();
    todo.pop_back();
    if (!found.insert(pid).second) continue;
    for (pid_t child : children[pid]) todo.push_back(child);
  }
  std::vector<ServerProcess> out;
  for (pid_t pid : found) out.push_back({pid, names[pid]});
  return out;
}

Result<pid_t> Gateway::StartSidecar(const std::string& component,
                                    const std::map<std::string, std::string>& extra_env,
                                    const std::string& output_path) const {
  SpawnSpec spec{prefix_ + "/libexec/pushgate/pushgate-entrypoint",
                 {"pushgate-entrypoint", component},
                 {"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}, -1, -1, -1, false, ""};
  for (const auto& [k, v] : EntrypointEnv()) SetEnv(spec.env, k, v);
  for (const auto& [k, v] : extra_env) SetEnv(spec.env, k, v);
  UniqueFd out;
  if (!output_path.empty()) {
    out.Reset(::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.valid()) return Status::FromErrno(errno, "open " + output_path);
    spec.stdout_fd = out.get();
    spec.stderr_fd = out.get();
  }
  return Spawn(spec);
}

bool Gateway::RestartSshd(const std::map<std::string, std::string>& extra_env) {
  StopSshd();
  return StartSshd(extra_env);
}

Gateway::~Gateway() {
  StopSshd();
  if (data_dir_mounted_) (void)RunCommand({"umount", "-l", data_dir_});
  if (!prefix_.empty()) (void)RemoveTree(prefix_);
  if (!data_dir_.empty()) (void)RemoveTree(data_dir_);
  if (!client_home_.empty()) (void)RemoveTree(client_home_);
}

CapturedRun Gateway::Admin(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {prefix_ + "/bin/pushgate", "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

std::string Gateway::AdminOk(const std::vector<std::string>& args) const {
  CapturedRun run = Admin(args);
  EXPECT_TRUE(run.status.success()) << args.front() << ": " << run.output;
  return run.output;
}

TestKey Gateway::AddUserWithKey(const std::string& user, const std::string& key_dir) const {
  TestKey key = MakeKey(key_dir, user);
  AdminOk({"user", "add", user});
  AdminOk({"key", "add", user, key.private_path + ".pub"});
  return key;
}

std::string Gateway::Url(const std::string& app) const {
  return "ssh://" + std::string(kGitUser) + "@127.0.0.1:" + std::to_string(port_) + "/" + app + ".git";
}

std::map<std::string, std::string> Gateway::GitClientEnv(const TestKey& key) const {
  std::map<std::string, std::string> env = GitEnv();
  env["HOME"] = client_home_;
  env["GIT_SSH_COMMAND"] = "ssh -F /dev/null -i " + key.private_path +
                           " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                           " -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR";
  return env;
}

LiveGit::~LiveGit() {
  if (!reaped_) Kill();
}

bool LiveGit::ReadMore(std::chrono::steady_clock::time_point deadline) {
  char buf[4096];
  for (;;) {
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{out_.get(), POLLIN, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return false;
    }
    ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }
}

bool LiveGit::ReadUntil(std::string_view text) {
  while (output_.find(text) == std::string::npos) {
    if (!ReadMore()) return false;
  }
  return true;
}

ExitStatus LiveGit::Finish(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ReadMore(deadline)) {
  }
  Result<std::optional<ExitStatus>> exit =
      WaitForExitUntil(pid_, std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()));
  if (!exit.ok() || !exit->has_value()) {
    ADD_FAILURE() << "git still running after " << timeout.count() << " s; killed. Output:\n" << output_;
    Kill();
    return ExitStatus{};
  }
  reaped_ = true;
  return **exit;
}

void LiveGit::Stop() { ::kill(-pid_, SIGSTOP); }

void LiveGit::Kill() {
  ::kill(-pid_, SIGKILL);
  (void)WaitForExit(pid_);
  reaped_ = true;
  out_.Reset();
}

std::unique_ptr<LiveGit> Gateway::StartGit(const TestKey& key, const std::vector<std::string>& args,
                                           const std::string& cwd) const {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return nullptr;
  }
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  SpawnSpec spec{"/usr/bin/git", {"git"}, {"PATH=/usr/bin:/bin"}, -1, write_end.get(), write_end.get(), true, cwd};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  for (const auto& [k, v] : GitClientEnv(key)) SetEnv(spec.env, k, v);
  Result<pid_t> pid = Spawn(spec);
  if (!pid.ok()) {
    ADD_FAILURE() << pid.status().ToString();
    return nullptr;
  }
  return std::make_unique<LiveGit>(*pid, read_end.Release());
}

std::string Gateway::RemoteRef(const TestKey& key, const std::string& app, const std::string& ref) const {
  CapturedRun run = Git(key, {"ls-remote", Url(app), ref}, "/");
  return run.output.substr(0, run.output.find('\t'));
}

CapturedRun Gateway::Git(const TestKey& key, const std::vector<std::string>& args, const std::string& cwd) const {
  std::vector<std::string> argv = {"timeout", "120", "git"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, GitClientEnv(key), cwd);
}

std::vector<std::string> Gateway::SshArgv(const TestKey& key) const {
  return {"ssh", "-F", "/dev/null", "-l", kGitUser, "-i", key.private_path, "-p", std::to_string(port_),
          "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
          "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"};
}

CapturedRun Gateway::Ssh(const TestKey& key, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"timeout", "60"};
  for (const std::string& arg : SshArgv(key)) argv.push_back(arg);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, SshEnv());
}

std::string Gateway::CurrentRelease(const std::string& app) const {
  char buf[256];
  ssize_t n = ::readlink((data_dir_ + "/releases/" + app + "/current").c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

CapturedRun Gateway::FsckRepo(const std::string& app) const {
  return RunCommand({"git", "-c", "safe.directory=*", "--git-dir", data_dir_ + "/repos/" + app + ".git", "fsck",
                     "--strict", "--no-dangling", "--no-progress"});
}

void Gateway::SetBuild(const std::string& app, const std::string& steps) {
  if (!app_build_steps_) ADD_FAILURE() << "SetBuild needs GatewayOptions::app_build_steps (no build command runs)";
  WriteFile(prefix_ + "/libexec/pushgate-test/apps/" + app, steps + "\n", 0644);
}

std::string Gateway::Logs() const {
  std::string out = "--- sshd.log\n";
  Result<std::string> sshd = ReadSmallFile(sshd_log_path(), 8 << 20);
  if (sshd.ok()) out += sshd->size() > 6000 ? sshd->substr(sshd->size() - 6000) : *sshd;
  out += "--- pushgate.log\n";
  Result<std::string> log = ReadSmallFile(data_dir_ + "/pushgate.log", 8 << 20);
  if (log.ok()) out += log->size() > 6000 ? log->substr(log->size() - 6000) : *log;
  return out;
}

}  // namespace pushgate::testing
