#include "cli/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <ctime>
#include <optional>

#include "cli/privileges.h"
#include "health/gateway_status.h"
#include "config/config.h"
#include "data-dir/drain.h"
#include "config/host_check.h"
#include "reaper/trash.h"
#include "metrics/counters.h"
#include "registry/registry.h"
#include "releases/releases.h"
#include "sshkey/sshkey.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/duration.h"
#include "util/line_reader.h"
#include "util/lock.h"
#include "util/names.h"

namespace pushgate {
namespace {

struct Session {
  Config config;
  std::unique_ptr<Registry> registry;
};

// --config (or PUSHGATE_CONFIG) may be relative to where the operator
// stands; a missing file says how to name the right one.
Result<Config> LoadCommandConfig(const CommandArgs& args) {
  std::string path = args.config_path;
  if (!path.empty() && path.front() != '/') {
    PG_ASSIGN_OR_RETURN(std::string cwd, CurrentDirectory());
    path = cwd + "/" + path;
  }
  Result<Config> config = LoadConfig(path);
  if (config.status().IsNotFound()) {
    return Status::NotFound(config.status().message() +
                            "; name the configuration file with --config FILE or export PUSHGATE_CONFIG=FILE");
  }
  return config;
}

// Loads the config, becomes git_user and opens the registry.
Result<Session> OpenSession(const CommandArgs& args) {
  Session session;
  PG_ASSIGN_OR_RETURN(session.config, LoadCommandConfig(args));
  PG_RETURN_IF_ERROR(BecomeGitUser(session.config));
  PG_ASSIGN_OR_RETURN(session.registry, Registry::Open(session.config.dirs().Db(), KeyCache::Access::kReadWrite));
  return session;
}

void Print(const std::string& line) { std::printf("%s\n", line.c_str()); }

void DeclareUser(CLI::App& c, CommandArgs& a) { c.add_option("USER", a.user, "user name")->required(); }
void DeclareApp(CLI::App& c, CommandArgs& a) { c.add_option("APP", a.app, "app name")->required(); }
void DeclareAppUser(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  DeclareUser(c, a);
}
void DeclareNothing(CLI::App&, CommandArgs&) {}

Status UserAdd(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->AddUser(args.user));
  Print("added user " + args.user);
  return Status::OK();
}

Status UserRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemoveUser(args.user));
  Print("removed user " + args.user + " with their keys and app memberships");
  return Status::OK();
}

Status UserList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(std::vector<std::string> users, s.registry->ListUsers());
  for (const std::string& u : users) Print(u);
  return Status::OK();
}

void DeclareKeyAdd(CLI::App& c, CommandArgs& a) {
  DeclareUser(c, a);
  c.add_option("FILE", a.file, "file of public keys, one per line, or - for stdin")->default_val("-");
}

// Opens FILE, or stdin for "-", before switching users: root may read files
// git_user cannot. `example` is the command line to suggest for a terminal.
Result<UniqueFd> OpenKeyInput(const std::string& file, const std::string& example) {
  if (file == "-" && ::isatty(STDIN_FILENO)) {
    return Status::InvalidArgument("not reading keys from a terminal: give the public key file (" + example +
                                   ") or pipe keys to `-`");
  }
  if (file == "-") return UniqueFd(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
  UniqueFd input(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!input.valid()) return Status::FromErrno(errno, "open " + file);
  return input;
}

std::string KeySource(const std::string& file) { return file == "-" ? "stdin" : file; }

Status KeyAdd(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(UniqueFd input,
                      OpenKeyInput(args.file, "pushgate key add " + args.user + " ~/.ssh/id_ed25519.pub"));
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(KeyImport import, s.registry->BeginKeyImport(args.user));
  LineReader lines(input.get());
  const std::string source = KeySource(args.file);
  Result<size_t> read = ReadPublicKeyList(lines, [&](PublicKey&& key) {
    PG_RETURN_IF_ERROR(CheckKeyStrength(key, s.config.keys.min_rsa_bits));
    return import.Add(key);
  });
  if (!read.ok()) return read.status().Annotate(source).Annotate("no keys were added");
  if (*read == 0) return Status::InvalidArgument(source + " contains no public keys");
  PG_RETURN_IF_ERROR(import.Commit());
  std::string line = "added " + std::to_string(import.added()) + (import.added() == 1 ? " key" : " keys") +
                     " for " + args.user;
  if (import.unchanged() > 0) line += " (" + std::to_string(import.unchanged()) + " already registered)";
  Print(line);
  return Status::OK();
}

void DeclareKeyRemove(CLI::App& c, CommandArgs& a) {
  c.add_option("FINGERPRINT", a.fingerprint, "SHA256:... as printed by `pushgate key ls` or ssh-keygen -lf")
      ->required();
}

Status KeyRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemoveKey(args.fingerprint));
  Print("removed key " + args.fingerprint);
  return Status::OK();
}

void DeclareKeyList(CLI::App& c, CommandArgs& a) { c.add_option("USER", a.user, "only this user's keys"); }

Status KeyList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  std::optional<std::string_view> user;
  if (!args.user.empty()) user = args.user;
  PG_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, s.registry->ListKeys(user));
  for (const StoredKey& k : keys) {
    Print(k.fingerprint + "  " + k.record.user + "  " + k.record.type + "  " + FormatUnixTime(k.record.added_at) +
          (k.record.comment.empty() ? "" : "  " + k.record.comment));
  }
  return Status::OK();
}

void DeclareAppCreate(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  c.add_option("--member", a.members, "user allowed to push (repeatable)");
}

Status AppCreate(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->CreateApp(args.app, args.members));
  Print("created app " + args.app);
  return Status::OK();
}

void DeclareAppRemove(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  c.add_flag("--purge", a.purge, "also delete its repository now (otherwise pushgate-reaper does, later)");
}

Status AppRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemoveApp(args.app));
  if (!args.purge) {
    Print("removed app " + args.app + " (pushgate-reaper deletes its repository " + s.config.dirs().Repo(args.app) +
          " after reaper.grace; --purge deletes it at once)");
    return Status::OK();
  }
  Status purged = PurgeRepository(s.config, args.app);
  if (!purged.ok()) {
    return purged.Annotate("removed app " + args.app + ", but not its repository");
  }
  Print("removed app " + args.app + " and its repository");
  return Status::OK();
}

Status AppList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(std::vector<AppInfo> apps, s.registry->ListApps());
  for (const AppInfo& app : apps) {
    std::string members;
    for (const std::string& m : app.members) members += (members.empty() ? "" : ",") + m;
    Print(app.name + "  " + (members.empty() ? "-" : members));
  }
  return Status::OK();
}

Status AppGrant(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(bool changed, s.registry->Grant(args.app, args.user));
  Print(changed ? "granted " + args.user + " access to " + args.app
                : args.user + " already has access to " + args.app + "; nothing changed");
  return Status::OK();
}

Status AppRevoke(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(bool changed, s.registry->Revoke(args.app, args.user));
  Print(changed ? "revoked " + args.user + "'s access to " + args.app
                : args.user + " has no access to " + args.app + "; nothing changed");
  return Status::OK();
}

// Deploy keys and releases are the standalone registry's and the bundled
// deploy's; in controller mode the platform has its own (a deploy key in
// the key cache would be lost at the next full sync).
Status RequireStandalone(const Config& config, std::string_view what) {
  if (config.mode == Mode::kStandalone) return Status::OK();
  return Status::InvalidArgument(std::string(what) +
                                 " belong to standalone mode; in controller mode the platform keeps them");
}

// The one public key in `input` (a deploy key, a CA key).
Result<PublicKey> ReadOneKey(const UniqueFd& input, const std::string& file, const Config& config,
                             const std::string& what) {
  LineReader lines(input.get());
  const std::string source = KeySource(file);
  std::vector<PublicKey> keys;
  Result<size_t> read = ReadPublicKeyList(lines, [&](PublicKey&& key) {
    PG_RETURN_IF_ERROR(CheckKeyStrength(key, config.keys.min_rsa_bits));
    keys.push_back(std::move(key));
    return Status::OK();
  });
  if (!read.ok()) return read.status().Annotate(source).Annotate("no " + what + " was added");
  if (keys.size() != 1) {
    return Status::InvalidArgument(source + " holds " + std::to_string(keys.size()) + " public keys; a " + what +
                                   " is exactly one");
  }
  return std::move(keys.front());
}

void DeclareDeployKeyAdd(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  c.add_flag("--push", a.push, "may push as well as fetch");
  c.add_option("NAME", a.name, "the deploy key's name within the app (e.g. ci)")->required();
  c.add_option("FILE", a.file, "file holding the one public key, or - for stdin")->default_val("-");
}

Status DeployKeyAdd(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(UniqueFd input, OpenKeyInput(args.file, "pushgate app key add " + args.app + " " + args.name +
                                                                  " ci_key.pub"));
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(RequireStandalone(s.config, "deploy keys"));
  PG_ASSIGN_OR_RETURN(PublicKey key, ReadOneKey(input, args.file, s.config, "deploy key"));
  PG_RETURN_IF_ERROR(s.registry->AddDeployKey(args.app, args.name, key, args.push));
  Print("added deploy key " + args.name + " (" + key.sha256_fingerprint + ") to " + args.app + ": " +
        (args.push ? "push and fetch" : "fetch only"));
  return Status::OK();
}

void DeclareDeployKey(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  c.add_option("NAME", a.name, "the deploy key's name within the app")->required();
}

Status DeployKeyRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemoveDeployKey(args.app, args.name));
  Print("removed deploy key " + args.name + " of " + args.app);
  return Status::OK();
}

Status DeployKeyList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(std::vector<StoredDeployKey> keys, s.registry->ListDeployKeys(args.app));
  for (const StoredDeployKey& k : keys) {
    Print(k.entry.name + "  " + (k.entry.push ? "push" : "fetch") + "  " + k.entry.fingerprint + "  " +
          k.record.type + "  " + FormatUnixTime(k.record.added_at) +
          (k.record.comment.empty() ? "" : "  " + k.record.comment));
  }
  return Status::OK();
}

// sshd reads the trusted CAs from a file (TrustedUserCAKeys); it is
// rewritten from the registry after every change, atomically, so sshd never
// reads half of it. pushgate-principals checks the registry as well, so a
// file left behind by a failed rewrite trusts nothing the registry does not.
Status WriteTrustedCaFile(const Session& s) {
  PG_ASSIGN_OR_RETURN(std::vector<TrustedCa> cas, s.registry->ListCaKeys());
  std::string text = "# Written by `pushgate ca add|rm` from the registry; edits here are lost.\n";
  for (const TrustedCa& ca : cas) text += ca.key_line + "\n";
  PG_RETURN_IF_ERROR(MakeDirs(s.config.dirs().Ssh(), 0755));
  return WriteFileAtomically(s.config.dirs().TrustedUserCaKeys(), text, 0644);
}

void DeclareCaAdd(CLI::App& c, CommandArgs& a) {
  c.add_option("FILE", a.file, "the CA's public key (ca.pub), or - for stdin")->default_val("-");
}

Status CaAdd(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(UniqueFd input, OpenKeyInput(args.file, "pushgate ca add user_ca.pub"));
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(RequireStandalone(s.config, "SSH certificate authorities"));
  PG_ASSIGN_OR_RETURN(PublicKey key, ReadOneKey(input, args.file, s.config, "CA key"));
  PG_RETURN_IF_ERROR(s.registry->AddCaKey(key));
  PG_RETURN_IF_ERROR(WriteTrustedCaFile(s).Annotate("the CA is in the registry, but sshd's file was not rewritten; "
                                                     "run pushgate ca add again after fixing this"));
  Print("trusted CA " + key.sha256_fingerprint + ": certificates it signs log in as the user their principal names");
  return Status::OK();
}

void DeclareCaRemove(CLI::App& c, CommandArgs& a) {
  c.add_option("FINGERPRINT", a.fingerprint, "SHA256:... as printed by `pushgate ca ls`")->required();
}

Status CaRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemoveCaKey(args.fingerprint));
  PG_RETURN_IF_ERROR(WriteTrustedCaFile(s));
  Print("removed CA " + args.fingerprint + "; its certificates no longer log in");
  return Status::OK();
}

Status CaList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_ASSIGN_OR_RETURN(std::vector<TrustedCa> cas, s.registry->ListCaKeys());
  for (const TrustedCa& ca : cas) {
    // key_line is "TYPE BASE64 [COMMENT]": list the type and the comment.
    size_t type_end = ca.key_line.find(' ');
    size_t blob_end = ca.key_line.find(' ', type_end + 1);
    std::string comment = blob_end == std::string::npos ? "" : "  " + ca.key_line.substr(blob_end + 1);
    Print(ca.fingerprint + "  " + ca.key_line.substr(0, type_end) + comment);
  }
  return Status::OK();
}

void DeclarePrincipal(CLI::App& c, CommandArgs& a) {
  DeclareUser(c, a);
  c.add_option("PRINCIPAL", a.name, "a principal of the user's certificates (e.g. alice@corp.example)")->required();
}

Status PrincipalAdd(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(RequireStandalone(s.config, "certificate principals"));
  PG_RETURN_IF_ERROR(s.registry->AddPrincipal(args.user, args.name));
  Print("certificates with principal " + args.name + " now log in as " + args.user);
  return Status::OK();
}

Status PrincipalRemove(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(s.registry->RemovePrincipal(args.user, args.name));
  Print("removed principal " + args.name + " of " + args.user);
  return Status::OK();
}

void DeclarePrincipalList(CLI::App& c, CommandArgs& a) { c.add_option("USER", a.user, "only this user's"); }

Status PrincipalList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  std::optional<std::string_view> user;
  if (!args.user.empty()) user = args.user;
  PG_ASSIGN_OR_RETURN(std::vector<PrincipalMapping> mappings, s.registry->ListPrincipals(user));
  for (const PrincipalMapping& m : mappings) Print(m.principal + "  " + m.user);
  return Status::OK();
}

void DeclareReleaseRollback(CLI::App& c, CommandArgs& a) {
  DeclareApp(c, a);
  c.add_option("VERSION", a.version, "the release to make current (v3); the one before the current by default")
      ->check([](const std::string& v) {
        return v.size() >= 2 && v.size() <= 10 && v[0] == 'v' && v[1] != '0' &&
                       v.find_first_not_of("0123456789", 1) == std::string::npos
                   ? std::string()
                   : "a release version is v1, v2, ...";
      });
}

Status ReleaseList(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(RequireStandalone(s.config, "releases"));
  PG_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases,
                      ListReleaseRecords(s.config.dirs().Releases() + "/" + args.app));
  if (releases.empty()) {
    Print(args.app + " has no releases yet");
    return Status::OK();
  }
  std::printf("%s", FormatReleaseList(releases).c_str());
  return Status::OK();
}

// Under the app lock, as a push or `ssh git@host rollback` would be.
Status ReleaseRollback(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Session s, OpenSession(args));
  PG_RETURN_IF_ERROR(RequireStandalone(s.config, "releases"));
  if (!IsValidAppName(args.app)) return Status::InvalidArgument("\"" + args.app + "\" is not a valid app name");
  std::optional<int> version;
  if (!args.version.empty()) version = std::stoi(args.version.substr(1));
  PG_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(s.config.dirs().AppLock(args.app), s.config.push.lock_timeout, [] {
    std::fprintf(stderr, "waiting for the deploy in progress...\n");
  }));
  PG_ASSIGN_OR_RETURN(ReleaseRecord now, RollBack(s.config.dirs().Releases() + "/" + args.app, version, "operator"));
  metrics::Add(s.config.data_dir, metrics::Counter::kRollback);
  Print(args.app + " rolled back to " + now.name);
  return Status::OK();
}

void DeclareBackup(CLI::App& c, CommandArgs& a) {
  c.add_option("FILE", a.file, "where to write the copy (replaced atomically)")->required();
}

// Reads the registry as whoever runs it (root or git_user) and writes the
// copy with the caller's identity into the caller's directory: nothing in
// data_dir is written, so there is no need to switch users.
Status Backup(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Config config, LoadCommandConfig(args));
  // A read-only open creates lock.mdb if it is missing; as root that file
  // would then belong to root and lock git_user out.
  if (!PathExists(config.dirs().Db() + "/lock.mdb")) {
    return Status::NotFound("there is no registry in " + config.dirs().Db() + " to back up");
  }
  PG_ASSIGN_OR_RETURN(std::unique_ptr<Registry> registry,
                      Registry::Open(config.dirs().Db(), KeyCache::Access::kReadOnly));
  std::string tmp = args.file + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + tmp);
  Status s = registry->Backup(fd.get());
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (s.ok() && ::rename(tmp.c_str(), args.file.c_str()) != 0) s = Status::FromErrno(errno, "rename to " + args.file);
  if (!s.ok()) {
    (void)::unlink(tmp.c_str());  // the error above is the one to report
    return s;
  }
  Print("wrote a consistent copy of the registry to " + args.file);
  return Status::OK();
}

void DeclareDrain(CLI::App& c, CommandArgs& a) {
  c.add_option("STATE", a.state, "on: refuse new pushes; off: accept them again; omitted: show")
      ->check(CLI::IsMember({"on", "off"}));
  c.add_option("--wait", a.wait, "with on: wait up to this long (e.g. 10m) for pushes in flight to finish; "
                                 "exit status 1 if some are still running");
}

// Polls until no push holds an app lock or the deadline passes.
Result<int> WaitForPushesInFlight(const Config& config, Duration limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    PG_ASSIGN_OR_RETURN(int in_flight, PushesInFlight(config.dirs()));
    if (in_flight == 0 || std::chrono::steady_clock::now() >= deadline) return in_flight;
    ::usleep(200 * 1000);
  }
}

// Needs no registry (it works in both modes): the config and git_user only.
Status Drain(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Config config, LoadCommandConfig(args));
  std::optional<Duration> wait;
  if (!args.wait.empty()) {
    if (args.state != "on") return Status::InvalidArgument("--wait goes with `drain on`");
    PG_ASSIGN_OR_RETURN(wait, ParseDuration(args.wait));
  }
  PG_RETURN_IF_ERROR(BecomeGitUser(config));
  if (!args.state.empty()) PG_RETURN_IF_ERROR(SetDraining(config.dirs(), args.state == "on"));
  PG_ASSIGN_OR_RETURN(bool draining, IsDraining(config.dirs()));
  PG_ASSIGN_OR_RETURN(int in_flight, wait ? WaitForPushesInFlight(config, *wait) : PushesInFlight(config.dirs()));
  Print(std::string(draining ? "draining: new pushes are refused" : "accepting pushes") + "; " +
        std::to_string(in_flight) + (in_flight == 1 ? " push" : " pushes") + " in flight");
  if (wait && in_flight > 0) args.exit_code = 1;
  return Status::OK();
}

void DeclareConfigCheck(CLI::App& c, CommandArgs& a) {
  c.add_flag("--file-only", a.file_only,
             "check the file alone, not this machine (accounts, programs, token files): for a config "
             "written for another machine or image");
}

// Validation only: reads the file (and, unless --file-only, what it names on
// this machine) as whoever runs it and touches nothing, so a container
// entrypoint can run it before anything else.
Status ConfigCheck(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Config config, LoadCommandConfig(args));
  if (!args.file_only) {
    std::vector<std::string> problems = CheckHost(config);
    if (!problems.empty()) {
      std::string text = config.path + " is valid, but this machine does not fit it:";
      for (const std::string& problem : problems) text += "\n  " + problem;
      return Status::InvalidArgument(text);
    }
  }
  Print(config.path + ": valid (" + (config.mode == Mode::kController ? "controller" : "standalone") +
        " mode, data_dir " + config.data_dir + ", git_user " + config.git_user + ")");
  return Status::OK();
}

void DeclareConfigGet(CLI::App& c, CommandArgs& a) {
  c.add_option("KEY", a.key, "the setting to print")
      ->required()
      ->check(CLI::IsMember({"mode", "data_dir", "git_user", "log.destination"}));
}

// One validated value per line, for scripts (the container entrypoint).
Status ConfigGet(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Config config, LoadCommandConfig(args));
  if (args.key == "mode") Print(config.mode == Mode::kController ? "controller" : "standalone");
  if (args.key == "data_dir") Print(config.data_dir);
  if (args.key == "git_user") Print(config.git_user);
  if (args.key == "log.destination") {
    const log::Destination& d = config.log.destination;
    Print(d.kind == log::Destination::Kind::kFile ? d.path
                                                  : d.kind == log::Destination::Kind::kSyslog ? "syslog" : "stderr");
  }
  return Status::OK();
}

void DeclareStatus(CLI::App& c, CommandArgs& a) {
  c.add_flag("--json", a.json, "one JSON object");
  c.add_flag("--ready", a.ready,
             "readiness probe: exit status 0 if new pushes can be taken (healthy, or degraded but not "
             "draining), 1 otherwise; prints the problems only");
}

Status GatewayHealth(CommandArgs& args) {
  PG_ASSIGN_OR_RETURN(Config config, LoadCommandConfig(args));
  PG_RETURN_IF_ERROR(BecomeGitUser(config));
  GatewayStatus status = CollectStatus(config);
  if (args.ready) {
    for (const std::string& problem : status.problems) Print(problem);
    args.exit_code = status.CanTakePushes() ? 0 : 1;
    return Status::OK();
  }
  std::printf("%s", args.json ? (status.ToJson() + "\n").c_str() : status.ToText().c_str());
  args.exit_code = static_cast<int>(status.health);
  return Status::OK();
}

constexpr Command kCommands[] = {
    {"user", "add", "register a user", DeclareUser, UserAdd},
    {"user", "rm", "remove a user, their keys and memberships", DeclareUser, UserRemove},
    {"user", "ls", "list users", DeclareNothing, UserList},
    {"key", "add", "add public keys for a user (one per line; atomic)", DeclareKeyAdd, KeyAdd},
    {"key", "rm", "remove a key by fingerprint", DeclareKeyRemove, KeyRemove},
    {"key", "ls", "list keys", DeclareKeyList, KeyList},
    {"app", "create", "create an app", DeclareAppCreate, AppCreate},
    {"app", "rm", "remove an app", DeclareAppRemove, AppRemove},
    {"app", "ls", "list apps and their members", DeclareNothing, AppList},
    {"app", "grant", "let a user push to an app", DeclareAppUser, AppGrant},
    {"app", "revoke", "stop a user pushing to an app", DeclareAppUser, AppRevoke},
    {"user principal", "add", "let certificates with PRINCIPAL log in as USER", DeclarePrincipal, PrincipalAdd},
    {"user principal", "rm", "remove a principal mapping", DeclarePrincipal, PrincipalRemove},
    {"user principal", "ls", "list principal mappings", DeclarePrincipalList, PrincipalList},
    {"ca", "add", "trust a user CA key: certificates it signs log in", DeclareCaAdd, CaAdd},
    {"ca", "rm", "stop trusting a user CA key", DeclareCaRemove, CaRemove},
    {"ca", "ls", "list trusted user CA keys", DeclareNothing, CaList},
    {"app key", "add", "bind a key to one app, for CI (fetch only unless --push)", DeclareDeployKeyAdd,
     DeployKeyAdd},
    {"app key", "rm", "remove an app's deploy key", DeclareDeployKey, DeployKeyRemove},
    {"app key", "ls", "list an app's deploy keys", DeclareApp, DeployKeyList},
    {"release", "ls", "list an app's releases, newest first", DeclareApp, ReleaseList},
    {"release", "rollback", "make an older release current again (the previous one by default)",
     DeclareReleaseRollback, ReleaseRollback},
    {nullptr, "backup", "write a consistent copy of the registry", DeclareBackup, Backup},
    {nullptr, "status", "the gateway's state; exit status 0 healthy, 1 degraded, 2 down", DeclareStatus,
     GatewayHealth, 2},
    {nullptr, "drain", "pause new pushes before maintenance (on), resume them (off)", DeclareDrain, Drain},
    {"config", "check", "validate the configuration file", DeclareConfigCheck, ConfigCheck},
    {"config", "get", "print one validated setting (for scripts)", DeclareConfigGet, ConfigGet},
};

constexpr CommandGroup kGroups[] = {
    {"user", "manage users"},
    {"key", "manage users' public keys"},
    {"app", "manage apps and who may push to them"},
    {"app key", "manage an app's deploy keys"},
    {"user principal", "map SSH certificate principals to users"},
    {"ca", "manage trusted SSH user certificate authorities"},
    {"config", "check the configuration"},
    {"release", "list and roll back an app's releases"},
};

}  // namespace

std::span<const Command> Commands() { return kCommands; }
std::span<const CommandGroup> CommandGroups() { return kGroups; }

}  // namespace pushgate
