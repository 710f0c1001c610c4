#include "config/config.h"

// Errors are values here too: toml++ reports parse errors through its result
// type instead of exceptions. Formatters are not needed (we only read).
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

#include <optional>
#include <span>
#include <vector>

#include "util/byte_size.h"
#include "util/fs.h"
#include "util/names.h"
#include "util/spelling.h"

namespace pushgate {
namespace {

// Each known key: its dotted name and how to apply its value.
struct KeySpec {
  std::string_view name;
  Status (*apply)(const toml::node& value, std::string_view key, Config& config);
};

Status WrongType(std::string_view key, std::string_view expected) {
  return Status::InvalidArgument(std::string(key) + " must be " + std::string(expected));
}

Result<std::string> AsString(const toml::node& value, std::string_view key) {
  if (!value.is_string()) return WrongType(key, "a string");
  return std::string(*value.value<std::string_view>());
}

Result<Duration> AsDuration(const toml::node& value, std::string_view key) {
  if (!value.is_string()) return WrongType(key, "a duration string such as \"30s\" or \"10m\"");
  Result<Duration> d = ParseDuration(*value.value<std::string_view>());
  if (!d.ok()) return d.status().Annotate(key);
  return d;
}

Result<std::vector<std::string>> AsStringList(const toml::node& value, std::string_view key) {
  const toml::array* array = value.as_array();
  if (array == nullptr) return WrongType(key, "an array of strings");
  std::vector<std::string> out;
  for (const toml::node& item : *array) {
    if (!item.is_string()) return WrongType(key, "an array of strings");
    out.emplace_back(*item.value<std::string_view>());
  }
  return out;
}

// One of a fixed set of words, each naming an enum value; anything else is
// an error that lists them: `mode must be "standalone" or "controller", not "x"`.
template <typename Enum>
struct Choice {
  std::string_view word;
  Enum value;
};

template <typename Enum, size_t N>
Status ApplyChoice(const toml::node& value, std::string_view key, const Choice<Enum> (&choices)[N], Enum& out) {
  PG_ASSIGN_OR_RETURN(std::string word, AsString(value, key));
  std::string listed;
  for (size_t i = 0; i < N; ++i) {
    if (choices[i].word == word) {
      out = choices[i].value;
      return Status::OK();
    }
    listed += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + ("\"" + std::string(choices[i].word) + "\"");
  }
  return Status::InvalidArgument(std::string(key) + " must be " + listed + ", not \"" + Printable(word, 40) + "\"");
}

Status ApplyMode(const toml::node& value, std::string_view key, Config& config) {
  static constexpr Choice<Mode> kModes[] = {{"standalone", Mode::kStandalone}, {"controller", Mode::kController}};
  return ApplyChoice(value, key, kModes, config.mode);
}

Status ApplyDataDir(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string dir, AsString(value, key));
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!IsSafeAbsolutePath(dir)) {
    return Status::InvalidArgument(std::string(key) +
                                   " must be an absolute path of letters, digits and /._+-, not \"" +
                                   dir + "\"");
  }
  config.data_dir = dir;
  return Status::OK();
}

Status ApplyGitUser(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string user, AsString(value, key));
  if (!IsValidUnixUserName(user)) {
    return Status::InvalidArgument(std::string(key) + " \"" + user + "\" is not a valid user name");
  }
  config.git_user = user;
  return Status::OK();
}

Status ApplyDeployRefs(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> refs, AsStringList(value, key));
  if (refs.empty()) return Status::InvalidArgument(std::string(key) + " must name at least one ref");
  for (const std::string& ref : refs) {
    if (!IsValidBranchRef(ref)) {
      return Status::InvalidArgument(std::string(key) + ": \"" + ref +
                                     "\" is not a branch ref such as refs/heads/main");
    }
  }
  config.deploy_refs = std::move(refs);
  return Status::OK();
}

Status ApplyGitPath(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string path, AsString(value, key));
  if (!IsSafeAbsolutePath(path)) {
    return Status::InvalidArgument(std::string(key) + " must be an absolute path, not \"" + path + "\"");
  }
  config.git_path = path;
  return Status::OK();
}

// A string is split on spaces (no shell is involved, so no quoting rules);
// an array is taken as the argv. Either way argv[0] is an absolute path.
Status ApplyBuildCommand(const toml::node& value, std::string_view key, Config& config) {
  std::vector<std::string> argv;
  if (value.is_string()) {
    std::string_view text = *value.value<std::string_view>();
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      size_t start = i;
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
      if (i > start) argv.emplace_back(text.substr(start, i - start));
    }
  } else {
    PG_ASSIGN_OR_RETURN(argv, AsStringList(value, key));
  }
  if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
    return Status::InvalidArgument(std::string(key) +
                                   " must start with the absolute path of the program to run");
  }
  config.build.command = std::move(argv);
  return Status::OK();
}

Status ApplyBuildDriver(const toml::node& value, std::string_view key, Config& config) {
  static constexpr Choice<BuildDriver> kDrivers[] = {
      {"local", BuildDriver::kLocal}, {"workflow", BuildDriver::kWorkflow}, {"pushgate", BuildDriver::kPushgate}};
  PG_RETURN_IF_ERROR(ApplyChoice(value, key, kDrivers, config.build.driver));
  config.build.driver_set = true;
  return Status::OK();
}

// An image registry as buildah and podman name it: host[:port][/path].
Status ApplyRegistry(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string registry, AsString(value, key));
  bool valid = !registry.empty() && registry.size() <= 255 && registry.front() != '-' && registry.front() != '/' &&
               registry.back() != '/';
  for (char c : registry) {
    valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_' || c == ':' || c == '/');
  }
  if (!valid) {
    return Status::InvalidArgument(std::string(key) + " must be a registry such as registry.example.com:5000, not \"" +
                                   Printable(registry, 60) + "\"");
  }
  config.build.registry = registry;
  return Status::OK();
}

// A duration that must be more than zero.
Status ApplyPositive(const toml::node& value, std::string_view key, Duration& out) {
  PG_ASSIGN_OR_RETURN(out, AsDuration(value, key));
  if (out.count() == 0) return Status::InvalidArgument(std::string(key) + " must be positive");
  return Status::OK();
}

Status ApplyReaperGrace(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(config.reaper.grace, AsDuration(value, key));
  return Status::OK();
}

Status ApplyMaxFraction(const toml::node& value, std::string_view key, Config& config) {
  std::optional<double> fraction = value.value<double>();
  if (!fraction || !value.is_number() || *fraction < 0 || *fraction > 1) {
    return WrongType(key, "a number from 0 to 1 (0.1 is 10%)");
  }
  config.reaper.max_fraction = *fraction;
  return Status::OK();
}

Status ApplyMaxPerRun(const toml::node& value, std::string_view key, Config& config) {
  std::optional<int64_t> count = value.value<int64_t>();
  if (!value.is_integer() || !count || *count < 0 || *count > 1000000) return WrongType(key, "a count from 0 to 1000000");
  config.reaper.max_per_run = static_cast<int>(*count);
  return Status::OK();
}

Status ApplyLockTimeout(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(config.push.lock_timeout, AsDuration(value, key));
  return Status::OK();
}

// A size: a string with a unit ("512MiB") or an integer number of bytes.
Status ApplyByteSize(const toml::node& value, std::string_view key, uint64_t& out) {
  if (value.is_integer()) {
    int64_t bytes = *value.value<int64_t>();
    if (bytes <= 0) return Status::InvalidArgument(std::string(key) + " must be positive");
    out = static_cast<uint64_t>(bytes);
    return Status::OK();
  }
  if (!value.is_string()) return WrongType(key, "a size such as \"512MiB\" or \"1GiB\"");
  Result<uint64_t> size = ParseByteSize(*value.value<std::string_view>());
  if (!size.ok()) return size.status().Annotate(key);
  if (*size == 0) return Status::InvalidArgument(std::string(key) + " must be positive");
  out = *size;
  return Status::OK();
}

Status ApplyCount(const toml::node& value, std::string_view key, int64_t min, int64_t max, int& out) {
  std::optional<int64_t> count = value.value<int64_t>();
  if (!value.is_integer() || !count || *count < min || *count > max) {
    return WrongType(key, "a count from " + std::to_string(min) + " to " + std::to_string(max));
  }
  out = static_cast<int>(*count);
  return Status::OK();
}

Status ApplyBool(const toml::node& value, std::string_view key, bool& field) {
  if (!value.is_boolean()) return WrongType(key, "true or false");
  field = *value.value<bool>();
  return Status::OK();
}

Status ApplyControllerUrl(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string url, AsString(value, key));
  while (!url.empty() && url.back() == '/') url.pop_back();
  bool scheme = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  bool clean = url.find_first_of(" \t\r\n\"'\\") == std::string::npos;
  if (!scheme || !clean || url.size() > 2048) {
    return Status::InvalidArgument(std::string(key) + " must be an http:// or https:// URL, not \"" + url + "\"");
  }
  // Credentials in the URL would sit in a world-readable file and reach
  // logs in every error message; the token has its own file.
  std::string authority = url.substr(url.find("//") + 2);
  if (authority.substr(0, authority.find('/')).find('@') != std::string::npos) {
    return Status::InvalidArgument(
        std::string(key) + " must not hold credentials (user:password@); put the token in controller.token_file");
  }
  config.controller.url = url;
  return Status::OK();
}

Status ApplyAuthHeader(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string header, AsString(value, key));
  bool token = !header.empty() && header.size() <= 64;
  for (char c : header) {
    token = token && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!token) return Status::InvalidArgument(std::string(key) + " must be an HTTP header name such as X-Deis-Builder-Auth");
  config.controller.auth_header = header;
  return Status::OK();
}

Status ApplyAbsoluteFile(const toml::node& value, std::string_view key, std::string& out) {
  PG_ASSIGN_OR_RETURN(std::string path, AsString(value, key));
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument(std::string(key) + " must be an absolute path, not \"" + path + "\"");
  }
  out = path;
  return Status::OK();
}

Status ApplyLogDestination(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string text, AsString(value, key));
  Result<log::Destination> d = log::ParseDestination(text);
  if (!d.ok()) return d.status().Annotate(key);
  config.log.destination = *d;
  return Status::OK();
}

Status ApplyLogLevel(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string text, AsString(value, key));
  Result<log::Level> level = log::ParseLevel(text);
  if (!level.ok()) return level.status().Annotate(key);
  config.log.level = *level;
  return Status::OK();
}

Status ApplyListen(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::string text, AsString(value, key));
  Result<ListenAddress> listen = ParseListenAddress(text);
  if (!listen.ok()) return listen.status().Annotate(key);
  config.sshd.listen = *listen;
  return Status::OK();
}

Status ApplyHostKeys(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> paths, AsStringList(value, key));
  if (paths.empty() || paths.size() > 8) return WrongType(key, "a list of 1 to 8 host key files");
  for (const std::string& path : paths) {
    if (!IsSafeAbsolutePath(path)) {
      return Status::InvalidArgument(std::string(key) + ": \"" + Printable(path, 100) +
                                     "\" must be an absolute path of letters, digits and /._+-");
    }
  }
  config.sshd.host_keys = std::move(paths);
  return Status::OK();
}

Status ApplyProxyProtocol(const toml::node& value, std::string_view key, Config& config) {
  static constexpr Choice<ProxyProtocol> kModes[] = {
      {"off", ProxyProtocol::kOff}, {"on", ProxyProtocol::kOn}, {"optional", ProxyProtocol::kOptional}};
  return ApplyChoice(value, key, kModes, config.sshd.proxy_protocol);
}

Status ApplyProxyTrusted(const toml::node& value, std::string_view key, Config& config) {
  PG_ASSIGN_OR_RETURN(std::vector<std::string> texts, AsStringList(value, key));
  std::vector<Network> networks;
  for (const std::string& text : texts) {
    Result<Network> network = ParseNetwork(text);
    if (!network.ok()) return network.status().Annotate(key);
    networks.push_back(*network);
  }
  config.sshd.proxy_trusted = std::move(networks);
  return Status::OK();
}

// A table's field read by one of the typed appliers above, named in the
// key tables below by member pointers: {"push.max_pack_size",
// Field<ByteSize, &Config::push, &PushConfig::max_pack_size>}.
template <typename T>
using Applier = Status (*)(const toml::node& value, std::string_view key, T& out);

template <auto kApply, auto kTable, auto kField>
Status Field(const toml::node& value, std::string_view key, Config& config) {
  return kApply(value, key, config.*kTable.*kField);
}

template <auto kTable, auto kField, int64_t kMin, int64_t kMax>
Status CountField(const toml::node& value, std::string_view key, Config& config) {
  return ApplyCount(value, key, kMin, kMax, config.*kTable.*kField);
}

constexpr Applier<Duration> Positive = ApplyPositive;
constexpr Applier<uint64_t> ByteSize = ApplyByteSize;
constexpr Applier<bool> Bool = ApplyBool;
constexpr Applier<std::string> AbsoluteFile = ApplyAbsoluteFile;

constexpr KeySpec kTopLevel[] = {
    {"mode", ApplyMode},
    {"data_dir", ApplyDataDir},
    {"git_user", ApplyGitUser},
    {"deploy_refs", ApplyDeployRefs},
    {"git_path", ApplyGitPath},
};
constexpr KeySpec kBuild[] = {
    {"build.driver", ApplyBuildDriver},
    {"build.command", ApplyBuildCommand},
    {"build.registry", ApplyRegistry},
    {"build.timeout", Field<Positive, &Config::build, &BuildConfig::timeout>},
    {"build.keepalive", Field<Positive, &Config::build, &BuildConfig::keepalive>},
    {"build.source_compression", CountField<&Config::build, &BuildConfig::source_compression, 1, 9>},
};
constexpr KeySpec kPush[] = {
    {"push.lock_timeout", ApplyLockTimeout},
    {"push.idle_timeout", Field<Positive, &Config::push, &PushConfig::idle_timeout>},
    {"push.max_pack_size", Field<ByteSize, &Config::push, &PushConfig::max_pack_size>},
    {"push.max_file_size", Field<ByteSize, &Config::push, &PushConfig::max_file_size>},
    {"push.max_release_size", Field<ByteSize, &Config::push, &PushConfig::max_release_size>},
    {"push.max_tree_depth", CountField<&Config::push, &PushConfig::max_tree_depth, 1, 4096>},
    {"push.max_entries", CountField<&Config::push, &PushConfig::max_entries, 1, 100000000>},
    {"push.distinguish_missing_apps", Field<Bool, &Config::push, &PushConfig::distinguish_missing_apps>},
    {"push.max_pushes_per_user", CountField<&Config::push, &PushConfig::max_pushes_per_user, 0, 10000>},
    {"push.max_requests_per_minute", CountField<&Config::push, &PushConfig::max_requests_per_minute, 0, 1000000>},
};
constexpr KeySpec kDeploy[] = {
    {"deploy.allow_external_symlinks", Field<Bool, &Config::deploy, &DeployConfig::allow_external_symlinks>},
};
constexpr KeySpec kKeys[] = {
    {"keys.min_rsa_bits", CountField<&Config::keys, &KeysConfig::min_rsa_bits, 1024, 16384>},
};
constexpr KeySpec kController[] = {
    {"controller.url", ApplyControllerUrl},
    {"controller.auth_header", ApplyAuthHeader},
    {"controller.token_file", Field<AbsoluteFile, &Config::controller, &ControllerConfig::token_file>},
    {"controller.ca_file", Field<AbsoluteFile, &Config::controller, &ControllerConfig::ca_file>},
    {"controller.connect_timeout", Field<Positive, &Config::controller, &ControllerConfig::connect_timeout>},
    {"controller.timeout", Field<Positive, &Config::controller, &ControllerConfig::timeout>},
};
constexpr KeySpec kCache[] = {
    {"cache.refresh_after", Field<Positive, &Config::cache, &CacheConfig::refresh_after>},
    {"cache.positive_ttl", Field<Positive, &Config::cache, &CacheConfig::positive_ttl>},
    {"cache.negative_ttl", Field<Positive, &Config::cache, &CacheConfig::negative_ttl>},
    {"cache.max_staleness", Field<Positive, &Config::cache, &CacheConfig::max_staleness>},
    {"cache.sync_deadline", Field<Positive, &Config::cache, &CacheConfig::sync_deadline>},
};
constexpr KeySpec kReaper[] = {
    {"reaper.grace", ApplyReaperGrace},
    {"reaper.max_fraction", ApplyMaxFraction},
    {"reaper.max_per_run", ApplyMaxPerRun},
    {"reaper.min_allowed", CountField<&Config::reaper, &ReaperConfig::min_allowed, 0, 1000000>},
    {"reaper.interval", Field<Positive, &Config::reaper, &ReaperConfig::interval>},
};
constexpr KeySpec kSshd[] = {
    {"sshd.listen", ApplyListen},
    {"sshd.host_keys", ApplyHostKeys},
    {"sshd.proxy_protocol", ApplyProxyProtocol},
    {"sshd.proxy_trusted", ApplyProxyTrusted},
    {"sshd.grace_period", Field<Positive, &Config::sshd, &SshdConfig::grace_period>},
    {"sshd.login_grace_time", Field<Positive, &Config::sshd, &SshdConfig::login_grace_time>},
    {"sshd.max_connections", CountField<&Config::sshd, &SshdConfig::max_connections, 1, 100000>},
    {"sshd.max_unauthenticated", CountField<&Config::sshd, &SshdConfig::max_unauthenticated, 1, 100000>},
    {"sshd.max_unauthenticated_per_source",
     CountField<&Config::sshd, &SshdConfig::max_unauthenticated_per_source, 1, 100000>},
    {"sshd.max_auth_tries", CountField<&Config::sshd, &SshdConfig::max_auth_tries, 1, 100>},
    {"sshd.max_sessions_per_user", CountField<&Config::sshd, &SshdConfig::max_sessions_per_user, 0, 100000>},
    {"sshd.max_sessions_per_minute", CountField<&Config::sshd, &SshdConfig::max_sessions_per_minute, 0, 1000000>},
    {"sshd.allow_sha1_signatures", Field<Bool, &Config::sshd, &SshdConfig::allow_sha1_signatures>},
};
constexpr KeySpec kLog[] = {
    {"log.destination", ApplyLogDestination},
    {"log.level", ApplyLogLevel},
};

struct TableSpec {
  std::string_view name;
  std::span<const KeySpec> keys;
};
constexpr TableSpec kTables[] = {
    {"build", kBuild},
    {"push", kPush},
    {"deploy", kDeploy},
    {"keys", kKeys},
    {"controller", kController},
    {"cache", kCache},
    {"reaper", kReaper},
    {"sshd", kSshd},
    {"log", kLog},
};

std::string Where(std::string_view origin, const toml::node& node) {
  const toml::source_region& src = node.source();
  return std::string(origin) + ":" + std::to_string(src.begin.line);
}

// "; did you mean build.timeout?" for build.timout: the nearest key of the
// same table (or, at the top, the nearest key or table name).
std::string SuggestKey(std::string_view dotted, std::span<const KeySpec> keys) {
  size_t dot = dotted.rfind('.');
  std::string_view table = dot == std::string_view::npos ? "" : dotted.substr(0, dot + 1);
  std::vector<std::string_view> known;
  for (const KeySpec& k : keys) known.push_back(k.name.substr(table.size()));
  if (table.empty()) {
    for (const TableSpec& t : kTables) known.push_back(t.name);
  }
  std::string nearest = NearestWord(dotted.substr(table.size()), known);
  return nearest.empty() ? "" : "; did you mean " + std::string(table) + nearest + "?";
}

Status ApplyKey(std::string_view dotted, const toml::node& value, std::span<const KeySpec> keys,
                std::string_view origin, Config& config) {
  for (const KeySpec& k : keys) {
    if (k.name == dotted) {
      Status s = k.apply(value, dotted, config);
      return s.ok() ? s : s.Annotate(Where(origin, value));
    }
  }
  return Status::InvalidArgument(Where(origin, value) + ": unknown key " + std::string(dotted) +
                                 SuggestKey(dotted, keys));
}

// The driver and mode must make sense together; nothing is guessed.
Status CheckBuildDriver(const Config& config, std::string_view origin) {
  std::string where(origin);
  if (config.mode == Mode::kStandalone) {
    if (config.build.driver != BuildDriver::kLocal) {
      return Status::InvalidArgument(where + ": build.driver = \"workflow\" and \"pushgate\" need mode = "
                                     "\"controller\"; standalone mode builds locally (build.driver = \"local\")");
    }
    return Status::OK();
  }
  if (!config.build.driver_set) {
    return Status::InvalidArgument(
        where + ": mode = \"controller\" needs build.driver: \"workflow\" for a stock Deis Workflow, Hephy or "
                "Drycc controller (its build and config hooks), \"pushgate\" for a controller with pushgate's "
                "build API, or \"local\" to run build.command on this host");
  }
  if (config.build.driver == BuildDriver::kWorkflow && config.build.command.empty()) {
    return Status::InvalidArgument(where + ": build.driver = \"workflow\" needs build.command, a program that "
                                           "builds the image (for example libexec/pushgate/pushgate-build-image)");
  }
  if (config.build.driver == BuildDriver::kPushgate && !config.build.command.empty()) {
    return Status::InvalidArgument(where + ": build.driver = \"pushgate\" builds on the controller; remove "
                                           "build.command, or set build.driver = \"local\" to run it here");
  }
  return Status::OK();
}

}  // namespace

bool Config::IsDeployRef(std::string_view ref) const {
  for (const std::string& r : deploy_refs) {
    if (r == ref) return true;
  }
  return false;
}

// toml++ describes what its parser saw; the usual mistakes get plain words
// first, its text after.
std::string DescribeSyntaxError(std::string_view text, const toml::parse_error& err) {
  std::string_view description = err.description();
  std::string toml_says = "(toml: " + std::string(description) + ")";
  // The character the parser stopped at: a newline inside a string means the
  // closing quote is missing.
  size_t offset = 0;
  for (toml::source_index line = 1; line < err.source().begin.line && offset < text.size(); ++offset) {
    if (text[offset] == '\n') ++line;
  }
  offset += err.source().begin.column - 1;
  bool at_line_end = offset >= text.size() || text[offset] == '\n' || text[offset] == '\r';
  bool in_string = description.find("string") != std::string_view::npos;
  if (in_string && (description.find("end-of-file") != std::string_view::npos ||
                    (description.find("control characters") != std::string_view::npos && at_line_end))) {
    return "a string is missing its closing quote (a string ends on the line it starts on) " + toml_says;
  }
  if (description.find("could not determine value type") != std::string_view::npos ||
      (description.find("integer") != std::string_view::npos && description.find("saw") != std::string_view::npos)) {
    return "a value is not valid: text, durations and sizes go in double quotes (\"30s\", \"/var/lib/pushgate\"), "
           "true and false are lower case " + toml_says;
  }
  if (description.find("table header") != std::string_view::npos && description.find("expected ']'") != std::string_view::npos) {
    return "a [table] header is missing its closing ] " + toml_says;
  }
  if (description.find("cannot redefine") != std::string_view::npos) {
    return "a key or [table] appears twice; keep one " + toml_says;
  }
  return std::string(description);
}

Result<Config> ParseConfig(std::string_view text, std::string_view origin) {
  toml::parse_result parsed = toml::parse(text, origin);
  if (!parsed) {
    const toml::parse_error& err = parsed.error();
    return Status::InvalidArgument(std::string(origin) + ":" + std::to_string(err.source().begin.line) +
                                   ": " + DescribeSyntaxError(text, err));
  }
  Config config;
  for (const auto& [name, value] : parsed.table()) {
    const TableSpec* table_spec = nullptr;
    for (const TableSpec& t : kTables) {
      if (t.name == name.str()) table_spec = &t;
    }
    if (table_spec == nullptr) {
      PG_RETURN_IF_ERROR(ApplyKey(name.str(), value, kTopLevel, origin, config));
      continue;
    }
    const toml::table* table = value.as_table();
    if (table == nullptr) {
      return Status::InvalidArgument(Where(origin, value) + ": " + std::string(name.str()) +
                                     " must be a table ([" + std::string(name.str()) + "])");
    }
    for (const auto& [sub_name, sub_value] : *table) {
      std::string dotted = std::string(name.str()) + "." + std::string(sub_name.str());
      PG_RETURN_IF_ERROR(ApplyKey(dotted, sub_value, table_spec->keys, origin, config));
    }
  }
  // The build's keepalive lines are what keep a quiet build from looking
  // like an idle session.
  if (config.build.keepalive >= config.push.idle_timeout) {
    return Status::InvalidArgument(std::string(origin) + ": build.keepalive (" + FormatDuration(config.build.keepalive) +
                                   ") must be shorter than push.idle_timeout (" +
                                   FormatDuration(config.push.idle_timeout) + "), or quiet builds are cut off");
  }
  if (config.mode == Mode::kController) {
    if (config.controller.url.empty()) {
      return Status::InvalidArgument(std::string(origin) + ": mode = \"controller\" needs controller.url");
    }
    if (config.controller.token_file.empty()) {
      return Status::InvalidArgument(std::string(origin) + ": mode = \"controller\" needs controller.token_file");
    }
  }
  PG_RETURN_IF_ERROR(CheckBuildDriver(config, origin));
  if (config.sshd.proxy_protocol != ProxyProtocol::kOff && config.sshd.proxy_trusted.empty()) {
    return Status::InvalidArgument(std::string(origin) +
                                   ": sshd.proxy_protocol needs sshd.proxy_trusted, the load balancers' networks "
                                   "(a PROXY header from anyone else would let them claim any address)");
  }
  if (config.sshd.host_keys.empty()) {
    std::string dir = config.dirs().SshdHostKeys();
    config.sshd.host_keys = {dir + "/ssh_host_ed25519_key", dir + "/ssh_host_rsa_key"};
  }
  return config;
}

Result<Config> LoadConfig(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("the config path must be absolute, not \"" + path + "\"");
  }
  Result<std::string> text = ReadSmallFile(path, 256 * 1024);
  if (!text.ok()) return text.status().Annotate("cannot read config");
  Result<Config> config = ParseConfig(*text, path);
  if (!config.ok()) return config.status();
  config->path = path;
  return config;
}

}  // namespace pushgate
