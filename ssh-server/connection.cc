#include "ssh-server/connection.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>

#include "metrics/counters.h"
#include "program/startup.h"
#include "session/session.h"
#include "ssh-server/proxy_protocol.h"
#include "sshcert/signature.h"
#include "sshd-plugin/certificates.h"
#include "sshd-plugin/keys.h"
#include "sshkey/sshkey.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/names.h"
#include "util/net_address.h"
#include "util/process.h"
#include "util/random_id.h"

namespace pushgate {
namespace {

using Clock = std::chrono::steady_clock;
using metrics::Counter;

// SIGTERM from the listener once its grace period is over: the session is
// told to stop, the way pushgate-shell's is by sshd.
std::atomic<bool> g_terminate{false};

void OnTerminate(int) { g_terminate.store(true); }

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- PROXY protocol ------------------------------------------------------

// Peeks until the bytes hold a whole header, are not one, or are broken;
// the SSH banner behind a header is left unread for libssh. A header nearly
// always arrives in one segment; for the rare split one, poll cannot say
// "more than what was peeked", so this naps and peeks again. The login
// grace alarm bounds a peer that sends half a header and stops.
ProxyHeader PeekProxyHeader(int fd) {
  char buffer[kMaxProxyHeader];
  for (;;) {
    pollfd readable = {fd, POLLIN, 0};
    if (::poll(&readable, 1, -1) < 0 && errno != EINTR) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_PEEK);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ProxyHeader header = ParseProxyHeader(std::string_view(buffer, static_cast<size_t>(n)));
    if (header.state != ProxyHeader::State::kIncomplete) return header;
    ::usleep(2000);
  }
  ProxyHeader closed;
  closed.state = ProxyHeader::State::kInvalid;
  closed.error = "the connection closed before its PROXY header ended";
  return closed;
}

// The client this connection speaks for, or nullopt to close it: a header
// from an untrusted peer, a missing header where one is required, or a
// broken one.
std::optional<Endpoint> ResolveClient(const SshdConfig& sshd, int fd, const Endpoint& peer) {
  if (sshd.proxy_protocol == ProxyProtocol::kOff) return peer;
  bool trusted = AnyContains(sshd.proxy_trusted, peer.address);
  ProxyHeader header = PeekProxyHeader(fd);
  auto refuse = [&](std::string_view why) -> std::optional<Endpoint> {
    log::Warn("closed a connection: " + std::string(why), {{"peer", peer.ToString()}});
    return std::nullopt;
  };
  switch (header.state) {
    case ProxyHeader::State::kAbsent:
      if (sshd.proxy_protocol == ProxyProtocol::kOn) {
        return refuse(trusted ? "no PROXY header (sshd.proxy_protocol is on)"
                              : "not from sshd.proxy_trusted, and sshd.proxy_protocol is on");
      }
      return peer;
    case ProxyHeader::State::kComplete: {
      if (!trusted) return refuse("a PROXY header from a peer outside sshd.proxy_trusted");
      std::string discard(header.length, '\0');
      size_t taken = 0;
      while (taken < header.length) {
        ssize_t n = ::recv(fd, discard.data() + taken, header.length - taken, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return refuse("the connection closed inside its PROXY header");
        taken += static_cast<size_t>(n);
      }
      return header.source ? *header.source : peer;
    }
    case ProxyHeader::State::kInvalid:
    case ProxyHeader::State::kIncomplete:
      break;
  }
  return refuse(header.error.empty() ? "a broken PROXY header" : header.error);
}

// ---- the connection ------------------------------------------------------

class Connection {
 public:
  Connection(const ConnectionContext& context, const IpAddress& client_address, std::string client)
      : context_(context), config_(*context.config), client_address_(client_address), client_(std::move(client)) {}

  int Serve(UniqueFd socket);

 private:
  // libssh's callbacks, with `this` as userdata.
  static int OnAuthPubkey(ssh_session, const char* user, ssh_key_struct* key, char state, void* self);
  static ssh_channel OnChannelOpen(ssh_session session, void* self);
  static int OnPtyRequest(ssh_session, ssh_channel, const char*, int, int, int, int, void*) { return SSH_ERROR; }
  static int OnShellRequest(ssh_session, ssh_channel, void* self);
  static int OnExecRequest(ssh_session, ssh_channel, const char* command, void* self);
  static int OnEnvRequest(ssh_session, ssh_channel, const char* name, const char* value, void* self);
  static int OnSubsystemRequest(ssh_session, ssh_channel, const char*, void*) { return SSH_ERROR; }
  static int OnChannelData(ssh_session, ssh_channel, void* data, uint32_t length, int is_stderr, void* self);
  static void OnChannelEof(ssh_session, ssh_channel, void* self);
  static void OnChannelClose(ssh_session, ssh_channel, void* self);
  static int OnGitOutput(socket_t fd, int revents, void* self);

  bool Authorize(ssh_key key, bool signed_in, const char* login);
  std::optional<std::string> CertificateUser(std::string_view base64, std::string& fingerprint, std::string& ca);
  void Admit();
  bool AcceptSessionRequest(std::optional<std::string> command);
  bool WaitForSessionRequest();
  bool StartSession();
  void Bridge();
  void Finish(int exit_code);
  void Disconnect();
  void TellClient(std::string_view line);
  bool ClientGone() const;
  void CloseGitInput() { git_in_.Reset(); }
  void WriteToGit(const char* data, size_t length);

  // What a client may send before git runs, kept for it.
  static constexpr size_t kMaxEarlyInput = 1 << 20;

  const ConnectionContext& context_;
  const Config& config_;
  IpAddress client_address_;  // after the PROXY header, if any
  std::string client_;
  // Members are destroyed in reverse order, so the channel and the event go
  // before the session: ssh_free frees the session's channels itself, and
  // ssh_channel_free on one of them afterwards would read freed memory.
  SshSession session_owner_;
  ssh_session session_ = nullptr;  // session_owner_'s
  SshEvent event_;

  ssh_server_callbacks_struct server_callbacks_ = {};
  ssh_channel_callbacks_struct channel_callbacks_ = {};
  SshChannel channel_;

  int denials_ = 0;
  Clock::time_point keys_exchanged_at_;
  bool authenticated_ = false;
  std::string user_;
  std::string fingerprint_;
  std::string ca_fingerprint_;  // a certificate's CA; empty for a plain key
  std::optional<std::string> refusal_;  // the listener's per-user limit

  bool session_requested_ = false;
  std::optional<std::string> command_;
  std::optional<std::string> git_protocol_;

  pid_t child_ = -1;
  std::string early_input_;
  bool client_eof_ = false;
  UniqueFd git_in_;   // the session's stdin
  UniqueFd git_out_;  // its stdout
  UniqueFd git_err_;  // its stderr
  bool client_closed_ = false;
  bool stalled_ = false;
};

// An SSH user certificate. Under OpenSSH, sshd checks the CA signature,
// the validity and source-address, and refuses a force-command that
// differs from pushgate's; here all of that is done in process, then the
// same decision as pushgate-principals (sshd-plugin/certificates.h).
// pushgate's forced command is the only command, so a certificate that
// names another one is refused rather than ignored.
std::optional<std::string> Connection::CertificateUser(std::string_view base64, std::string& fingerprint,
                                                       std::string& ca) {
  Result<Certificate> cert = ParseCertificateBase64(base64);
  if (!cert.ok()) {
    log::Warn("refused a certificate: " + cert.status().message());
    return std::nullopt;
  }
  fingerprint = Sha256Fingerprint(cert->plain_key);
  ca = Sha256Fingerprint(cert->signature_key);
  auto refuse = [&](const std::string& why) {
    log::Warn("refused a certificate: " + why,
              {{"key", fingerprint}, {"key_id", Printable(cert->key_id, 200)}, {"ca", ca}});
    return std::nullopt;
  };
  if (Status signed_by_ca = VerifyCertificateSignature(*cert); !signed_by_ca.ok()) {
    return refuse(signed_by_ca.message());
  }
  if (FindCriticalOption(*cert, "force-command") != nullptr) {
    return refuse("it carries force-command, and pushgate runs only its own command");
  }
  if (const std::string* sources = FindCriticalOption(*cert, "source-address")) {
    std::vector<Network> networks;
    std::string_view rest = *sources;
    while (!rest.empty()) {
      std::string_view item = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      Result<Network> network = ParseNetwork(item);
      if (!network.ok()) return refuse("its source-address " + Printable(*sources, 200) + " is malformed");
      networks.push_back(*network);
    }
    if (!AnyContains(networks, client_address_)) {
      return refuse("its source-address " + Printable(*sources, 200) + " does not include " +
                    client_address_.ToString());
    }
  }
  Result<CertificateLogin> login = AuthorizeCertificate(
      config_, {*cert, ca, Sha256(cert->plain_key), static_cast<uint64_t>(UnixNowMs() / 1000)});
  if (!login.ok()) {
    log::Error("certificate check failed; refusing", {{"key", fingerprint}, {"error", login.status().message()}});
    return std::nullopt;
  }
  if (login->user.empty()) return refuse(login->refusal);
  return login->user;
}

bool Connection::Authorize(ssh_key key, bool signed_in, const char* login) {
  Result<std::string> line = PublicKeyLine(key);
  if (!line.ok()) return false;
  if (std::string_view type = std::string_view(*line).substr(0, line->find(' ')); IsCertificateType(type)) {
    if (login == nullptr || login != config_.git_user) return false;
    std::string fingerprint, ca;
    std::optional<std::string> user =
        CertificateUser(std::string_view(*line).substr(type.size() + 1), fingerprint, ca);
    if (!user) return false;
    if (signed_in) {
      user_ = *user;
      fingerprint_ = fingerprint;
      ca_fingerprint_ = ca;
    }
    return true;
  }
  Result<PublicKey> parsed = ParsePublicKeyLine(*line);
  if (!parsed.ok()) return false;
  KeysQuery query{login == nullptr ? "" : login, parsed->sha256_fingerprint, parsed->type, parsed->blob};
  KeysContext lookup;
  lookup.now_ms = UnixNowMs();
  if (config_.mode == Mode::kController) {
    lookup.sync = [&] { return SyncOfferedKey(config_, context_.libexec_dir, query); };
  }
  Result<std::optional<KeyRecord>> record = FindAuthorizedKey(config_, query, lookup);
  if (!record.ok()) {
    log::Error("key lookup failed; denying", {{"key", query.fingerprint}, {"error", record.status().message()}});
    return false;
  }
  CountKeyLookup(config_, lookup, !record->has_value());
  if (!record->has_value()) {
    if (!lookup.denied_because.empty()) log::Warn("refused " + lookup.denied_because, {{"key", query.fingerprint}});
    return false;
  }
  if (signed_in) {
    // Only now, with the signature checked: the identity is this key, not
    // whatever key the client offered last (the CVE-2024-45337 class).
    user_ = (*record)->user;
    fingerprint_ = query.fingerprint;
  }
  return true;
}

int Connection::OnAuthPubkey(ssh_session, const char* user, ssh_key_struct* key, char state, void* self) {
  auto* c = static_cast<Connection*>(self);
  bool probe = state == SSH_PUBLICKEY_STATE_NONE;
  bool signed_in = state == SSH_PUBLICKEY_STATE_VALID;
  if (c->authenticated_ || (!probe && !signed_in) || !c->Authorize(key, signed_in, user)) {
    ++c->denials_;
    return SSH_AUTH_DENIED;
  }
  if (signed_in) {
    c->authenticated_ = true;
    metrics::Observe(c->config_.data_dir, metrics::Histogram::kSshdAuthSeconds, SecondsSince(c->keys_exchanged_at_));
    log::SetContext("user", c->user_);
    log::SetContext("key", c->fingerprint_);
    c->Admit();
  }
  return SSH_AUTH_SUCCESS;
}

// Asks the listener whether this user may start one more session. Its
// answer arrives at once; the login grace alarm bounds a listener that
// never answers.
void Connection::Admit() {
  std::string request = std::string(kAdmitRequest) + user_;
  if (::send(context_.control_fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    refusal_ = "pushgate-sshd is shutting down; try again shortly";
    return;
  }
  char answer[512];
  ssize_t n;
  do {
    n = ::recv(context_.control_fd, answer, sizeof answer, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    refusal_ = "pushgate-sshd is shutting down; try again shortly";
  } else if (std::string_view(answer, static_cast<size_t>(n)) != kAdmitted) {
    refusal_ = std::string(answer, static_cast<size_t>(n));
  }
}

ssh_channel Connection::OnChannelOpen(ssh_session session, void* self) {
  auto* c = static_cast<Connection*>(self);
  if (c->channel_ != nullptr) return nullptr;  // one session per connection
  c->channel_.reset(ssh_channel_new(session));
  if (c->channel_ == nullptr) return nullptr;
  c->channel_callbacks_.size = sizeof c->channel_callbacks_;
  c->channel_callbacks_.userdata = c;
  c->channel_callbacks_.channel_pty_request_function = OnPtyRequest;
  c->channel_callbacks_.channel_shell_request_function = OnShellRequest;
  c->channel_callbacks_.channel_exec_request_function = OnExecRequest;
  c->channel_callbacks_.channel_env_request_function = OnEnvRequest;
  c->channel_callbacks_.channel_subsystem_request_function = OnSubsystemRequest;
  c->channel_callbacks_.channel_data_function = OnChannelData;
  c->channel_callbacks_.channel_eof_function = OnChannelEof;
  c->channel_callbacks_.channel_close_function = OnChannelClose;
  ssh_callbacks_init(&c->channel_callbacks_);
  if (ssh_set_channel_callbacks(c->channel_.get(), &c->channel_callbacks_) != SSH_OK) {
    c->channel_.reset();
    return nullptr;
  }
  return c->channel_.get();
}

bool Connection::AcceptSessionRequest(std::optional<std::string> command) {
  if (session_requested_) return false;
  session_requested_ = true;
  command_ = std::move(command);
  return true;
}

// A shell gets what pushgate-shell says to `ssh git@host`: who you are and
// that only git runs here.
int Connection::OnShellRequest(ssh_session, ssh_channel, void* self) {
  return static_cast<Connection*>(self)->AcceptSessionRequest(std::nullopt) ? SSH_OK : SSH_ERROR;
}

int Connection::OnExecRequest(ssh_session, ssh_channel, const char* command, void* self) {
  return static_cast<Connection*>(self)->AcceptSessionRequest(std::string(command)) ? SSH_OK : SSH_ERROR;
}

int Connection::OnEnvRequest(ssh_session, ssh_channel, const char* name, const char* value, void* self) {
  auto* c = static_cast<Connection*>(self);
  if (std::string_view(name) != "GIT_PROTOCOL" || !IsValidGitProtocol(value)) return SSH_ERROR;
  c->git_protocol_ = value;
  return SSH_OK;
}

// Data for git's stdin. Written in full before returning (libssh would
// otherwise keep the rest until the next packet, which a client waiting on
// its window never sends). Data that comes before git runs (git speaks
// first, so only an odd client sends any) waits in a bounded buffer.
int Connection::OnChannelData(ssh_session, ssh_channel, void* data, uint32_t length, int is_stderr, void* self) {
  auto* c = static_cast<Connection*>(self);
  const char* bytes = static_cast<const char*>(data);
  if (is_stderr) return static_cast<int>(length);  // a client's stderr means nothing here
  if (c->child_ < 0) {
    if (c->early_input_.size() + length > kMaxEarlyInput) {
      c->stalled_ = true;  // not a git client: let it go
    } else {
      c->early_input_.append(bytes, length);
    }
    return static_cast<int>(length);
  }
  c->WriteToGit(bytes, length);
  return static_cast<int>(length);
}

// Each write is bounded by push.idle_timeout: a git that stops reading for
// that long has been ended by the session relay.
void Connection::WriteToGit(const char* p, size_t left) {
  auto deadline = Clock::now() + config_.push.idle_timeout;
  while (left > 0 && git_in_.valid()) {
    ssize_t n = ::write(git_in_.get(), p, left);
    if (n > 0) {
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (wait > 0) {
        pollfd writable = {git_in_.get(), POLLOUT, 0};
        (void)::poll(&writable, 1, static_cast<int>(std::min<int64_t>(wait, 1000)));
        continue;
      }
      stalled_ = true;
    }
    // EPIPE: the session ended and no longer reads; the rest is dropped.
    CloseGitInput();
  }
}

void Connection::OnChannelEof(ssh_session, ssh_channel, void* self) {
  auto* c = static_cast<Connection*>(self);
  c->client_eof_ = true;
  c->CloseGitInput();
}

void Connection::OnChannelClose(ssh_session, ssh_channel, void* self) {
  auto* c = static_cast<Connection*>(self);
  c->client_closed_ = true;
  c->CloseGitInput();
}

// git's stdout or stderr has something: to the channel (stdout or stderr).
int Connection::OnGitOutput(socket_t fd, int revents, void* self) {
  auto* c = static_cast<Connection*>(self);
  char buffer[32 * 1024];
  ssize_t n = 0;
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    do {
      n = ::read(fd, buffer, sizeof buffer);
    } while (n < 0 && errno == EINTR);
  }
  if (n < 0 && errno == EAGAIN) return 0;
  bool is_stderr = fd == c->git_err_.get();
  if (n <= 0) {
    ssh_event_remove_fd(c->event_.get(), fd);
    (is_stderr ? c->git_err_ : c->git_out_).Reset();
    // A negative return tells libssh's poll loop that this handle is gone:
    // on 0 it would write to the freed handle and its shrunk poll array
    // (a crash seen under ASan as the session ended).
    return -1;
  }
  if (c->channel_ == nullptr || c->client_closed_) return 0;  // the client left: drain and drop
  auto size = static_cast<uint32_t>(n);
  int written = is_stderr ? ssh_channel_write_stderr(c->channel_.get(), buffer, size)
                          : ssh_channel_write(c->channel_.get(), buffer, size);
  if (written != static_cast<int>(size)) c->client_closed_ = true;
  return 0;
}

bool Connection::ClientGone() const {
  return client_closed_ || (ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 ||
         (channel_ != nullptr && ssh_channel_is_closed(channel_.get()));
}

// Until the client is authenticated and has asked for its session. False:
// it left, failed or gave up (the login grace alarm covers one that stalls).
bool Connection::WaitForSessionRequest() {
  while (!(authenticated_ && session_requested_)) {
    if (denials_ >= config_.sshd.max_auth_tries) {
      log::Info("too many authentication failures");
      Disconnect();
      return false;
    }
    if (ssh_event_dopoll(event_.get(), 1000) == SSH_ERROR || ClientGone()) return false;
  }
  return true;
}

void Connection::TellClient(std::string_view line) {
  if (channel_ == nullptr) return;
  std::string text = std::string(line) + "\n";
  (void)ssh_channel_write_stderr(channel_.get(), text.data(), static_cast<uint32_t>(text.size()));
}

bool Connection::StartSession() {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return false;
  }
  SessionRequest request;
  request.user = user_;
  request.fingerprint = fingerprint_;
  request.ca_fingerprint = ca_fingerprint_;
  request.original_command = command_;
  request.git_protocol = git_protocol_;
  request.request_id = RandomHex(8);
  request.client = client_;
  request.libexec_dir = context_.libexec_dir;
  pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    return false;
  }
  if (pid == 0) {
    // The session: stdio are the pipes, nothing of libssh's is touched
    // again, and _exit skips every destructor (libssh's would write to the
    // client's socket).
    // The log keeps the listener's stderr (a container's), on descriptor 3.
    int log_fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (log_fd < 0 || ::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0 ||
        ::dup2(log_fd, 3) < 0 || ::fcntl(3, F_SETFD, FD_CLOEXEC) != 0) {
      ::_exit(1);
    }
    ::close_range(4, ~0U, 0);
    log::ReopenAfterStdioChange(3);
    ::signal(SIGTERM, SIG_DFL);
    (void)::prctl(PR_SET_NAME, "pg-session");
    std::atomic<bool> stop{false};
    ::_exit(RunSession(config_, request, &stop, PrintError));
  }
  child_ = pid;
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  git_in_.Reset(in[1]);
  git_out_.Reset(out[0]);
  git_err_.Reset(err[0]);
  for (int fd : {git_in_.get(), git_out_.get(), git_err_.get()}) {
    if (::fcntl(fd, F_SETFL, O_NONBLOCK) != 0) return false;
  }
  for (int fd : {git_out_.get(), git_err_.get()}) {
    if (ssh_event_add_fd(event_.get(), fd, POLLIN, OnGitOutput, this) != SSH_OK) return false;
  }
  WriteToGit(early_input_.data(), early_input_.size());
  early_input_.clear();
  if (client_eof_) CloseGitInput();
  return true;
}

// Until git's stdout and stderr are closed (the session is over) or the
// client leaves; a SIGTERM is passed on to the session once.
void Connection::Bridge() {
  bool told_to_stop = false;
  while (git_out_.valid() || git_err_.valid()) {
    if (g_terminate.load() && !told_to_stop) {
      ::kill(child_, SIGTERM);
      told_to_stop = true;
    }
    if (ssh_event_dopoll(event_.get(), 1000) == SSH_ERROR || ClientGone() || stalled_) break;
  }
}

// The exit status, EOF and close, then a wait for the client to hang up
// (it does once it has them): closing first would cut off what it has not
// read, and OpenSSH would say "closed by remote host".
void Connection::Finish(int exit_code) {
  if (channel_ == nullptr || ClientGone()) return;
  (void)ssh_channel_request_send_exit_status(channel_.get(), exit_code);
  (void)ssh_channel_send_eof(channel_.get());
  (void)ssh_channel_close(channel_.get());
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while ((ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0 && Clock::now() < deadline) {
    if (ssh_event_dopoll(event_.get(), 100) == SSH_ERROR) return;
  }
  Disconnect();
}

void Connection::Disconnect() {
  ssh_disconnect(session_);
  // ssh_disconnect frees the session's channels: ours is gone, and freeing
  // it again in ~Connection read freed memory (an ASan SEGV in
  // ssh_channel_free at the end of most connections under load).
  (void)channel_.release();
}

int Connection::Serve(UniqueFd socket) {
  session_owner_.reset(ssh_new());
  if (session_owner_ == nullptr) return 0;
  session_ = session_owner_.get();
  if (ssh_bind_accept_fd(context_.bind, session_, socket.get()) != SSH_OK) {
    log::Warn("cannot accept the connection", {{"error", SshError("ssh_bind_accept_fd", session_).message()}});
    return 0;
  }
  socket.Release();  // libssh closes it with the session
  long timeout_s = std::chrono::duration_cast<std::chrono::seconds>(config_.push.idle_timeout).count();
  if (ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout_s) != SSH_OK) return 0;
  server_callbacks_.size = sizeof server_callbacks_;
  server_callbacks_.userdata = this;
  server_callbacks_.auth_pubkey_function = OnAuthPubkey;
  server_callbacks_.channel_open_request_session_function = OnChannelOpen;
  ssh_callbacks_init(&server_callbacks_);
  if (ssh_set_server_callbacks(session_, &server_callbacks_) != SSH_OK) return 0;
  ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PUBLICKEY);

  if (ssh_handle_key_exchange(session_) != SSH_OK) {
    log::Debug("key exchange failed", {{"error", SshError("libssh", session_).message()}});
    metrics::Add(config_.data_dir, Counter::kSshdAuthFailed);
    return 0;
  }
  keys_exchanged_at_ = Clock::now();
  metrics::Observe(config_.data_dir, metrics::Histogram::kSshdHandshakeSeconds, SecondsSince(context_.accepted_at));
  event_.reset(ssh_event_new());
  if (event_ == nullptr || ssh_event_add_session(event_.get(), session_) != SSH_OK) return 0;

  if (!WaitForSessionRequest()) {
    if (!authenticated_) metrics::Add(config_.data_dir, Counter::kSshdAuthFailed);
    return 0;
  }
  ::alarm(0);  // authenticated and in session: push.idle_timeout governs now
  if (refusal_) {
    log::Info("refused by a per-user limit");
    TellClient(*refusal_);
    Finish(1);
    return 0;
  }
  struct sigaction on_term = {};
  on_term.sa_handler = OnTerminate;
  (void)::sigaction(SIGTERM, &on_term, nullptr);
  if (!StartSession()) {
    log::Error("cannot start the session process", {{"error", Status::FromErrno(errno, "fork").message()}});
    TellClient("pushgate could not start the session on the server; tell the platform operator");
    Finish(1);
    return 0;
  }
  Bridge();
  bool client_left = ClientGone() || stalled_;
  // The session sees the client go as its pipes close.
  git_in_.Reset();
  git_out_.Reset();
  git_err_.Reset();
  Result<std::optional<ExitStatus>> waited = WaitForExitUntil(child_, config_.push.idle_timeout);
  int exit_code = 1;
  if (waited.ok() && waited->has_value()) {
    const ExitStatus& status = **waited;
    exit_code = status.exited ? status.code : 128 + status.signal;
  } else {
    (void)StopProcessGroup(child_, std::chrono::seconds(2));
  }
  if (!client_left) Finish(exit_code);
  return 0;
}

}  // namespace

int ServeConnection(const ConnectionContext& context, UniqueFd socket) {
  auto login_grace = std::chrono::ceil<std::chrono::seconds>(context.config->sshd.login_grace_time);
  ::alarm(static_cast<unsigned>(login_grace.count()));
  sockaddr_storage address = {};
  socklen_t length = sizeof address;
  if (::getpeername(socket.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  Result<Endpoint> peer = EndpointFromSockaddr(reinterpret_cast<sockaddr*>(&address), length);
  if (!peer.ok()) return 0;
  std::optional<Endpoint> client = ResolveClient(context.config->sshd, socket.get(), *peer);
  if (!client) {
    metrics::Add(context.config->data_dir, Counter::kSshdRefusedProxy);
    return 0;
  }
  std::string client_text = client->address.ToString() + " " + std::to_string(client->port);
  log::SetContext("client", client_text);
  Connection connection(context, client->address, client_text);
  return connection.Serve(std::move(socket));
}

}  // namespace pushgate
