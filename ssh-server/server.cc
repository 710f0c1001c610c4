#include "ssh-server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "metrics/counters.h"
#include "program/command_line.h"
#include "program/startup.h"
#include "ssh-server/connection.h"
#include "ssh-server/host_keys.h"
#include "ssh-server/libssh_handles.h"
#include "ssh-server/user_limits.h"
#include "util/log.h"
#include "util/names.h"
#include "util/net_address.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;
using metrics::Counter;
using metrics::Gauge;

// What a connection can be made to speak: nothing older than OpenSSH 7.x
// offers by default. chacha20-poly1305 and the GCM ciphers carry their own
// MAC; CTR ciphers get encrypt-then-MAC ones only. libssh 0.10.6 adds strict
// key exchange (the Terrapin fix) on its own when the client offers it.
constexpr char kKeyExchange[] =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512";
constexpr char kCiphers[] =
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr";
constexpr char kMacs[] = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com";
constexpr char kSignatures[] =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"
    "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256,"
    // SSH user certificates of the same keys; Connection checks the CA's
    // signature itself (libssh does not).
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com";
constexpr char kHostKeySignatures[] = "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256";

int g_signal_pipe = -1;  // written by the handlers, read by the loop
// What the listener catches (and its connections set back to default).
constexpr int kCaughtSignals[] = {SIGTERM, SIGINT, SIGCHLD};

void OnSignal(int signal) {
  int saved = errno;
  char byte = static_cast<char>(signal);
  (void)!::write(g_signal_pipe, &byte, 1);
  errno = saved;
}

Status SetBindOption(ssh_bind bind, ssh_bind_options_e option, const void* value, std::string_view what) {
  if (ssh_bind_options_set(bind, option, value) != SSH_OK) return SshError("cannot set " + std::string(what), bind);
  return Status::OK();
}

Result<SshBind> MakeBind(const SshdConfig& sshd, std::vector<HostKey>& keys) {
  SshBind bind(ssh_bind_new());
  if (bind == nullptr) return Status::Internal("ssh_bind_new failed");
  // libssh would otherwise read /etc/ssh/libssh_server_config and let it
  // override what this function sets.
  bool process_config = false;
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config, "config"));
  std::string signatures = kSignatures;
  std::string host_signatures = kHostKeySignatures;
  if (sshd.allow_sha1_signatures) {
    signatures += ",ssh-rsa";
    host_signatures += ",ssh-rsa";
  }
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_KEY_EXCHANGE, kKeyExchange, "key exchange"));
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_CIPHERS_C_S, kCiphers, "ciphers"));
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_CIPHERS_S_C, kCiphers, "ciphers"));
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_HMAC_C_S, kMacs, "MACs"));
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_HMAC_S_C, kMacs, "MACs"));
  PG_RETURN_IF_ERROR(
      SetBindOption(bind.get(), SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, host_signatures.c_str(), "host key algorithms"));
  PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, signatures.c_str(),
                                   "accepted key types"));
  for (HostKey& key : keys) {
    // The bind owns an imported key from here on.
    PG_RETURN_IF_ERROR(SetBindOption(bind.get(), SSH_BIND_OPTIONS_IMPORT_KEY, key.key.get(), "host key " + key.path));
    (void)key.key.release();
  }
  return bind;
}

// systemd's socket activation (LISTEN_PID, LISTEN_FDS: one socket, fd 3),
// or a socket of our own on sshd.listen.
Result<UniqueFd> OpenListener(const SshdConfig& sshd, std::string* where) {
  if (EnvOrEmpty("LISTEN_PID") == std::to_string(::getpid()) && EnvOrEmpty("LISTEN_FDS") == "1") {
    int fd = 3;
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return Status::FromErrno(errno, "fcntl on LISTEN_FDS socket");
    *where = "the socket systemd passed";
    return UniqueFd(fd);
  }
  const ListenAddress& listen = sshd.listen;
  bool v6 = listen.address.family == IpAddress::Family::kV6;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(errno, "socket");
  int yes = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0) {
    return Status::FromErrno(errno, "setsockopt SO_REUSEADDR");
  }
  sockaddr_storage address = {};
  socklen_t length = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&address);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(listen.port);
    std::memcpy(&a->sin6_addr, listen.address.bytes.data(), 16);
    length = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&address);
    a->sin_family = AF_INET;
    a->sin_port = htons(listen.port);
    std::memcpy(&a->sin_addr, listen.address.bytes.data(), 4);
    length = sizeof *a;
  }
  *where = listen.ToString();
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return Status::FromErrno(errno, "listen on " + *where + " (sshd.listen)");
  }
  if (::listen(fd.get(), 1024) != 0) return Status::FromErrno(errno, "listen on " + *where);
  return fd;
}

struct Child {
  UniqueFd control;  // our end of the admission socket
  IpAddress source;  // the TCP peer
  bool authenticated = false;
  std::string user;
};

class Listener {
 public:
  Listener(const Config& config, std::string libexec_dir, ssh_bind bind, UniqueFd socket, UniqueFd signals)
      : config_(config),
        libexec_dir_(std::move(libexec_dir)),
        bind_(bind),
        socket_(std::move(socket)),
        signals_(std::move(signals)),
        limits_(config.sshd.max_sessions_per_user, config.sshd.max_sessions_per_minute) {}

  int Run();

 private:
  void Accept();
  void Spawn(UniqueFd client, const Endpoint& peer, Clock::time_point accepted_at);
  void Answer(pid_t pid, Child& child);
  void Reap();
  void StartDrain();
  void SignalAll(int signal, bool unauthenticated_only);
  void Publish();
  int Count(const std::function<bool(const Child&)>& which) const;
  int Unauthenticated() const {
    return Count([](const Child& c) { return !c.authenticated; });
  }

  const Config& config_;
  std::string libexec_dir_;
  ssh_bind bind_;
  UniqueFd socket_;
  UniqueFd signals_;
  UserLimits limits_;
  std::map<pid_t, Child> children_;
  bool draining_ = false;
  Clock::time_point drain_deadline_;
  bool stop_sent_ = false;
};

int Listener::Count(const std::function<bool(const Child&)>& which) const {
  int n = 0;
  for (const auto& [pid, child] : children_) n += which(child) ? 1 : 0;
  return n;
}

void Listener::Publish() {
  int unauthenticated = Unauthenticated();
  metrics::Set(config_.data_dir, Gauge::kSshdUnauthenticated, unauthenticated);
  metrics::Set(config_.data_dir, Gauge::kSshdConnections, static_cast<int64_t>(children_.size()));
  metrics::Set(config_.data_dir, Gauge::kSshdSessions, static_cast<int64_t>(children_.size()) - unauthenticated);
}

void Listener::Accept() {
  sockaddr_storage address = {};
  socklen_t length = sizeof address;
  UniqueFd client(::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC));
  if (!client.valid()) {
    // EMFILE and friends: the connection waits in the backlog; a short
    // pause keeps this loop from spinning on it.
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      log::Warn("accept failed", {{"error", Status::FromErrno(errno, "accept").message()}});
      ::usleep(10000);
    }
    return;
  }
  Clock::time_point accepted_at = Clock::now();
  // Refusing is closing at once: no banner, nothing to hold. The reason is
  // in the counters, the peer in the log.
  Result<Endpoint> peer = EndpointFromSockaddr(reinterpret_cast<sockaddr*>(&address), length);
  if (!peer.ok()) return;
  std::string peer_text = peer->ToString();
  if (static_cast<int>(children_.size()) >= config_.sshd.max_connections) {
    metrics::Add(config_.data_dir, Counter::kSshdRefusedFull);
    log::Warn("refused a connection: sshd.max_connections reached", {{"peer", peer_text}});
    return;
  }
  if (Unauthenticated() >= config_.sshd.max_unauthenticated) {
    metrics::Add(config_.data_dir, Counter::kSshdRefusedUnauthenticated);
    log::Warn("refused a connection: sshd.max_unauthenticated reached", {{"peer", peer_text}});
    return;
  }
  bool per_source = !AnyContains(config_.sshd.proxy_trusted, peer->address);
  auto from_peer = [&](const Child& c) { return !c.authenticated && c.source == peer->address; };
  if (per_source && Count(from_peer) >= config_.sshd.max_unauthenticated_per_source) {
    metrics::Add(config_.data_dir, Counter::kSshdRefusedUnauthenticated);
    log::Warn("refused a connection: sshd.max_unauthenticated_per_source reached", {{"peer", peer_text}});
    return;
  }
  metrics::Add(config_.data_dir, Counter::kSshdAccepted);
  Spawn(std::move(client), *peer, accepted_at);
}

void Listener::Spawn(UniqueFd client, const Endpoint& peer, Clock::time_point accepted_at) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    log::Error("cannot serve a connection", {{"error", Status::FromErrno(errno, "socketpair").message()}});
    return;
  }
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    log::Error("cannot serve a connection", {{"error", Status::FromErrno(errno, "fork").message()}});
    return;
  }
  if (pid == 0) {
    // The connection's process: none of the listener's descriptors, the
    // default signal dispositions the listener changed.
    socket_.Reset();
    signals_.Reset();
    ours.Reset();
    for (auto& [other, child] : children_) child.control.Reset();
    for (int signal : kCaughtSignals) ::signal(signal, SIG_DFL);
    (void)::prctl(PR_SET_NAME, "pg-connection");  // what ps and top show
    ConnectionContext context;
    context.config = &config_;
    context.bind = bind_;
    context.libexec_dir = libexec_dir_;
    context.control_fd = theirs.get();
    context.accepted_at = accepted_at;
    ::_exit(ServeConnection(context, std::move(client)));
  }
  Child& child = children_[pid];
  child.control = std::move(ours);
  child.source = peer.address;
  Publish();
}

// A connection authenticated: may its user start one more session?
void Listener::Answer(pid_t pid, Child& child) {
  char request[256];
  ssize_t n = ::recv(child.control.get(), request, sizeof request, MSG_DONTWAIT);
  if (n <= 0) {
    child.control.Reset();  // it is ending; Reap follows
    return;
  }
  std::string_view text(request, static_cast<size_t>(n));
  if (text.substr(0, kAdmitRequest.size()) != kAdmitRequest || child.authenticated) return;
  std::string user(text.substr(kAdmitRequest.size()));
  int open = Count([&](const Child& c) { return c.authenticated && c.user == user; });
  std::optional<std::string> refusal = limits_.Admit(user, open, Clock::now());
  std::string answer = refusal ? *refusal : std::string(kAdmitted);
  if (refusal) {
    metrics::Add(config_.data_dir, Counter::kSshdRefusedUserLimit);
    log::Info("refused a session: " + *refusal, {{"pid", std::to_string(pid)}});
  } else {
    child.authenticated = true;
    child.user = user;
    Publish();
  }
  (void)::send(child.control.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void Listener::Reap() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
      metrics::Add(config_.data_dir, Counter::kSshdLoginTimeout);
      log::Info("a connection did not authenticate within sshd.login_grace_time", {{"pid", std::to_string(pid)}});
    }
    children_.erase(pid);
  }
  Publish();
}

void Listener::SignalAll(int signal, bool unauthenticated_only) {
  for (const auto& [pid, child] : children_) {
    if (!unauthenticated_only || !child.authenticated) ::kill(pid, signal);
  }
}

void Listener::StartDrain() {
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = Clock::now() + config_.sshd.grace_period;
  socket_.Reset();  // new connections are refused by the kernel from here on
  SignalAll(SIGTERM, /*unauthenticated_only=*/true);
  log::Info("draining: no new connections; sessions in flight may finish",
            {{"sessions", std::to_string(children_.size())},
             {"grace_period", FormatDuration(config_.sshd.grace_period)}});
}

int Listener::Run() {
  metrics::Set(config_.data_dir, Gauge::kSshdUnauthenticatedLimit, config_.sshd.max_unauthenticated);
  Publish();
  for (;;) {
    if (draining_) {
      if (children_.empty()) break;
      Clock::time_point now = Clock::now();
      if (now >= drain_deadline_ && !stop_sent_) {
        log::Warn("grace period over: stopping the sessions still running",
                  {{"sessions", std::to_string(children_.size())}});
        SignalAll(SIGTERM, false);
        stop_sent_ = true;
        drain_deadline_ = now + std::chrono::seconds(5);
      } else if (now >= drain_deadline_) {
        SignalAll(SIGKILL, false);
        ::usleep(100000);
        Reap();
        break;
      }
    }
    std::vector<pollfd> fds;
    fds.push_back({signals_.get(), POLLIN, 0});
    if (socket_.valid()) fds.push_back({socket_.get(), POLLIN, 0});
    std::vector<pid_t> order;
    for (auto& [pid, child] : children_) {
      if (!child.control.valid()) continue;
      fds.push_back({child.control.get(), POLLIN, 0});
      order.push_back(pid);
    }
    int ready = ::poll(fds.data(), fds.size(), 500);
    if (ready < 0 && errno != EINTR) return FailWith("pushgate-sshd", Status::FromErrno(errno, "poll"), 1);
    if (ready <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      char signal_bytes[64];
      ssize_t n = ::read(signals_.get(), signal_bytes, sizeof signal_bytes);
      for (ssize_t i = 0; i < n; ++i) {
        if (signal_bytes[i] == SIGCHLD) Reap();
        if (signal_bytes[i] == SIGTERM || signal_bytes[i] == SIGINT) StartDrain();
      }
    }
    size_t first_child = 1;
    if (fds.size() > 1 && socket_.valid() && fds[1].fd == socket_.get()) {
      first_child = 2;
      if ((fds[1].revents & POLLIN) != 0) Accept();
    }
    for (size_t i = first_child; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = children_.find(order[i - first_child]);
      if (it != children_.end()) Answer(it->first, it->second);
    }
  }
  log::Info("stopped");
  Publish();
  return 0;
}

Result<UniqueFd> CatchSignals() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno(errno, "pipe");
  g_signal_pipe = pipe_fds[1];
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;
  for (int signal : kCaughtSignals) {
    if (::sigaction(signal, &action, nullptr) != 0) return Status::FromErrno(errno, "sigaction");
  }
  ::signal(SIGPIPE, SIG_IGN);
  return UniqueFd(pipe_fds[0]);
}

}  // namespace

int RunSshServer(const SshServerOptions& options) {
  Result<Started> started = StartProgram({"pushgate-sshd", options.config_path, options.log_destination, true});
  if (!started.ok()) return FailWith("pushgate-sshd", started.status(), StartFailureExit(started.status()));
  Config& config = started->config;
  if (!options.listen.empty()) {
    Result<ListenAddress> listen = ParseListenAddress(options.listen);
    if (!listen.ok()) return FailWith("pushgate-sshd", listen.status().Annotate("--listen"), kUsageExit);
    config.sshd.listen = *listen;
  }
  Result<std::vector<HostKey>> keys = LoadOrCreateHostKeys(config.sshd.host_keys);
  if (!keys.ok()) return FailWith("pushgate-sshd", keys.status().Annotate("sshd.host_keys"), 1);
  for (const HostKey& key : *keys) {
    log::Info(key.created ? "created host key" : "host key",
              {{"path", key.path}, {"type", key.type}, {"fingerprint", key.fingerprint}});
  }
  Result<SshBind> bind = MakeBind(config.sshd, *keys);
  if (!bind.ok()) return FailWith("pushgate-sshd", bind.status(), 1);
  std::string where;
  Result<UniqueFd> socket = OpenListener(config.sshd, &where);
  if (!socket.ok()) return FailWith("pushgate-sshd", socket.status(), 1);
  Result<UniqueFd> signals = CatchSignals();
  if (!signals.ok()) return FailWith("pushgate-sshd", signals.status(), 1);
  log::Info("listening", {{"address", where}, {"git_user", config.git_user}});
  Listener listener(config, started->libexec_dir, bind->get(), std::move(*socket), std::move(*signals));
  return listener.Run();
}

}  // namespace pushgate
