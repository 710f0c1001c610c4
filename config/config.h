// pushgate's configuration: one TOML file shared by every binary.
//
// sshd passes no environment to the AuthorizedKeysCommand, so the path always
// arrives as --config on the command line (default /etc/pushgate/pushgate.toml).
// Loading validates everything up front: an unknown key or a bad value is an
// error that names the key, so a typo never silently falls back to a default.
// Every key is documented in docs/configuration.md.
#ifndef PUSHGATE_CONFIG_CONFIG_H_
#define PUSHGATE_CONFIG_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "data-dir/data_dir.h"
#include "util/duration.h"
#include "util/net_address.h"
#include "util/log.h"
#include "util/status.h"

namespace pushgate {

inline constexpr std::string_view kDefaultConfigPath = "/etc/pushgate/pushgate.toml";

enum class Mode { kStandalone, kController };

// How a pushed commit becomes a release ([build] driver).
enum class BuildDriver {
  kLocal,     // build.command on this host (default: the bundled pushgate-deploy)
  kWorkflow,  // the stock Deis Workflow / Hephy / Drycc hooks: build.command makes an
              // image, then POST /v2/hooks/build releases it on the controller
  kPushgate,  // pushgate's build API extension: the controller builds
};

struct BuildConfig {
  // Standalone mode: local, the only choice. Controller mode: must be set.
  BuildDriver driver = BuildDriver::kLocal;
  bool driver_set = false;
  // argv of the build command. Empty means the hook deploys the commit
  // itself (local driver); the workflow driver needs one that builds an image.
  std::vector<std::string> command;
  // Where pushgate-build-image pushes images: "registry.example.com:5000".
  std::string registry;
  Duration timeout = std::chrono::minutes(30);
  // While the build log is silent this long, the pusher gets a keepalive
  // line, so ssh and load-balancer idle timeouts do not cut the push.
  Duration keepalive = std::chrono::seconds(20);
  // gzip level of the source archive a build command or the controller
  // gets (1 fastest ... 9 smallest). Fast by default: pushed apps are
  // mostly compressed already, and a platform recompresses what it keeps.
  int source_compression = 1;
};

// What a push may be and how long it may take ([push]). The size and shape
// limits are far above what a real app needs; they exist so that one pushed
// commit cannot fill the disk or exhaust the hook (docs/security.md).
struct PushConfig {
  // How long a push waits for another push to the same app to finish.
  Duration lock_timeout = std::chrono::minutes(10);
  // A push session that moves no byte either way for this long is ended and
  // its app lock freed. Builds send keepalives (build.keepalive) and git its
  // own, so only a client that stopped talking or reading meets it; but a
  // client sends nothing while it counts and delta-compresses the objects of
  // a big first push, which takes minutes for a large repository on a slow
  // machine. The lock it holds is its own app's, so a long bound costs
  // nobody else a deploy.
  Duration idle_timeout = std::chrono::minutes(10);
  uint64_t max_pack_size = uint64_t{1} << 30;     // git's receive.maxInputSize
  uint64_t max_file_size = uint64_t{512} << 20;   // any one file of the pushed tree
  uint64_t max_release_size = uint64_t{2} << 30;  // all files of the pushed tree
  int max_tree_depth = 64;                        // path components of any entry
  int max_entries = 200000;                       // files, directories and links
  // Tell a pusher "App X does not exist" apart from "You do not have access
  // to X". Off: both hear "does not exist or you do not have access to it",
  // so a registered key cannot probe app names.
  bool distinguish_missing_apps = false;
  // One pusher (a user, or a deploy key) may have this many pushes in
  // progress at once, those waiting for an app's lock included, so that one
  // runaway CI job cannot take every build slot; and may start this many
  // sessions (pushes, fetches, commands) a minute. 0: no limit.
  int max_pushes_per_user = 8;
  int max_requests_per_minute = 300;
};

// The pushed tree as the deploy takes it ([deploy]).
struct DeployConfig {
  // A symlink whose target resolves outside the release (absolute, or
  // climbing above it with "..") refuses the push unless this is set.
  bool allow_external_symlinks = false;
};

// Which keys may log in at all ([keys]).
struct KeysConfig {
  // RSA keys with a shorter modulus are refused, in `key add`, from the
  // controller, and by the keys helper for keys stored before.
  int min_rsa_bits = 2048;
};

// How to reach the platform controller (mode = "controller").
struct ControllerConfig {
  std::string url;  // "https://controller.example.com", no trailing '/'
  // Header carrying the token. For "Authorization" the value is sent as
  // "Bearer TOKEN" unless the token file already starts with "Bearer ".
  std::string auth_header = "X-Deis-Builder-Auth";
  std::string token_file;  // the token, read at each start (trailing whitespace ignored)
  std::string ca_file;     // a private CA bundle; empty: the system's
  Duration connect_timeout = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(3);
};

// The controller-mode key cache's freshness rules (docs/configuration.md).
struct CacheConfig {
  Duration refresh_after = std::chrono::seconds(30);  // a hit older than this syncs first
  Duration positive_ttl = std::chrono::seconds(60);   // lookup mode: trust a fetched key this long
  Duration negative_ttl = std::chrono::seconds(10);   // a miss within this of the last answer is not re-asked
  Duration max_staleness = std::chrono::minutes(10);  // controller down: serve hits this old at most
  Duration sync_deadline = std::chrono::seconds(2);   // how long the keys helper waits for a sync
};

// pushgate-reaper: removing the repositories of deleted apps.
struct ReaperConfig {
  Duration grace = std::chrono::minutes(10);     // a repo pushed to this recently is never removed
  double max_fraction = 0.10;                    // a run that would remove more removes nothing
  int max_per_run = 100;                         // ... or more repos than this
  // Up to this many removals are allowed whatever the fraction: on a small
  // gateway one deleted app is already more than 10% of its repositories.
  int min_allowed = 3;
  Duration interval = std::chrono::hours(1);     // --interval default in loop mode
};

// pushgate-sshd, the gateway's own SSH server ([sshd]; docs/configuration.md).
enum class ProxyProtocol {
  kOff,       // no PROXY header is read; the TCP peer is the client
  kOn,        // every connection starts with one, from a trusted network
  kOptional,  // a header is taken from trusted networks, and not required
};

struct SshdConfig {
  ListenAddress listen = {{}, 2222};  // 0.0.0.0:2222
  // Host key files, created (0600) on first start if absent. Empty: an
  // ed25519 and an RSA key under data_dir/sshd/.
  std::vector<std::string> host_keys;
  ProxyProtocol proxy_protocol = ProxyProtocol::kOff;
  std::vector<Network> proxy_trusted;  // who may send a PROXY header
  Duration grace_period = std::chrono::seconds(10);      // SIGTERM: how long pushes may finish
  Duration login_grace_time = std::chrono::seconds(30);  // connect to authenticated
  int max_connections = 1000;
  int max_unauthenticated = 100;
  // From any one address (OpenSSH's PerSourceMaxStartups): one scanner
  // cannot take every unauthenticated slot. Peers in proxy_trusted are not
  // counted per source: behind a balancer every client shares its address.
  int max_unauthenticated_per_source = 50;
  int max_auth_tries = 6;
  // Per user (the key's owner): sessions at once, and sessions started in
  // any minute. 0: no limit.
  int max_sessions_per_user = 100;
  int max_sessions_per_minute = 600;
  // RSA signatures with SHA-1 (ssh-rsa), for clients older than OpenSSH 7.2.
  bool allow_sha1_signatures = false;
};

struct LogConfig {
  log::Destination destination = {log::Destination::Kind::kSyslog, ""};
  log::Level level = log::Level::kInfo;
};

struct Config {
  std::string path;  // the file it was loaded from (absolute)
  Mode mode = Mode::kStandalone;
  std::string data_dir = "/var/lib/pushgate";
  std::string git_user = "git";
  std::vector<std::string> deploy_refs = {"refs/heads/main", "refs/heads/master"};
  std::string git_path = "/usr/bin/git";
  BuildConfig build;
  PushConfig push;
  DeployConfig deploy;
  KeysConfig keys;
  ControllerConfig controller;
  CacheConfig cache;
  ReaperConfig reaper;
  SshdConfig sshd;
  LogConfig log;

  // Every path under data_dir.
  DataDir dirs() const { return DataDir(data_dir); }

  bool IsDeployRef(std::string_view ref) const;
};

// Releases are unpacked under data_dir/releases/APP/ with this prefix and
// renamed into place; an entry still carrying it was left by a deploy that
// was killed, and is removed by the next deploy of the app or the reaper.
inline constexpr std::string_view kReleaseStagingPrefix = ".tmp-";


// Reads and validates the file at `path`, which must be absolute.
Result<Config> LoadConfig(const std::string& path);

// Parses TOML text; `origin` names it in error messages.
Result<Config> ParseConfig(std::string_view text, std::string_view origin);

}  // namespace pushgate

#endif  // PUSHGATE_CONFIG_CONFIG_H_
