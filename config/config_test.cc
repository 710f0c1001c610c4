#include "config/config.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace pushgate {
namespace {

Status ParseError(std::string_view text) {
  Result<Config> c = ParseConfig(text, "test.toml");
  EXPECT_FALSE(c.ok()) << text;
  return c.ok() ? Status::OK() : c.status();
}

TEST(ConfigTest, DefaultsWhenEmpty) {
  Result<Config> c = ParseConfig("", "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, Mode::kStandalone);
  EXPECT_EQ(c->data_dir, "/var/lib/pushgate");
  EXPECT_EQ(c->git_user, "git");
  EXPECT_EQ(c->deploy_refs, (std::vector<std::string>{"refs/heads/main", "refs/heads/master"}));
  EXPECT_EQ(c->git_path, "/usr/bin/git");
  EXPECT_TRUE(c->build.command.empty());
  EXPECT_EQ(c->build.timeout, std::chrono::minutes(30));
  EXPECT_EQ(c->build.source_compression, 1);
  EXPECT_EQ(c->push.lock_timeout, std::chrono::minutes(10));
  EXPECT_EQ(c->push.max_pushes_per_user, 8);
  EXPECT_EQ(c->push.max_requests_per_minute, 300);
  EXPECT_EQ(c->push.idle_timeout, std::chrono::minutes(10));
  EXPECT_EQ(c->push.max_pack_size, uint64_t{1} << 30);
  EXPECT_EQ(c->push.max_file_size, uint64_t{512} << 20);
  EXPECT_EQ(c->push.max_release_size, uint64_t{2} << 30);
  EXPECT_EQ(c->push.max_tree_depth, 64);
  EXPECT_EQ(c->push.max_entries, 200000);
  EXPECT_FALSE(c->deploy.allow_external_symlinks);
  EXPECT_FALSE(c->push.distinguish_missing_apps);
  EXPECT_EQ(c->keys.min_rsa_bits, 2048);
  EXPECT_EQ(c->log.destination.kind, log::Destination::Kind::kSyslog);
  EXPECT_EQ(c->dirs().Repo("web"), "/var/lib/pushgate/repos/web.git");
  EXPECT_EQ(c->dirs().AppLock("web"), "/var/lib/pushgate/locks/web.lock");
}

TEST(ConfigTest, ReadsEveryKey) {
  Result<Config> c = ParseConfig(R"(
mode = "standalone"
data_dir = "/srv/pushgate/"
git_user = "deploy"
deploy_refs = ["refs/heads/production"]
git_path = "/usr/local/bin/git"

[build]
command = ["/usr/local/bin/build", "--fast"]
timeout = "1h30m"
source_compression = 9

[push]
lock_timeout = "45s"
idle_timeout = "5m"
max_pack_size = "100MiB"
max_file_size = 1048576
max_release_size = "3GB"
max_tree_depth = 20
max_entries = 5000
distinguish_missing_apps = true

[deploy]
allow_external_symlinks = true

[keys]
min_rsa_bits = 3072

[log]
destination = "/var/log/pushgate.log"
level = "debug"
)",
                                 "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->data_dir, "/srv/pushgate");
  EXPECT_EQ(c->git_user, "deploy");
  EXPECT_TRUE(c->IsDeployRef("refs/heads/production"));
  EXPECT_FALSE(c->IsDeployRef("refs/heads/main"));
  EXPECT_EQ(c->git_path, "/usr/local/bin/git");
  EXPECT_EQ(c->build.command, (std::vector<std::string>{"/usr/local/bin/build", "--fast"}));
  EXPECT_EQ(c->build.timeout, std::chrono::minutes(90));
  EXPECT_EQ(c->build.source_compression, 9);
  EXPECT_EQ(c->push.lock_timeout, std::chrono::seconds(45));
  EXPECT_EQ(c->push.idle_timeout, std::chrono::minutes(5));
  EXPECT_EQ(c->push.max_pack_size, uint64_t{100} << 20);
  EXPECT_EQ(c->push.max_file_size, 1048576u);
  EXPECT_EQ(c->push.max_release_size, 3000000000u);
  EXPECT_EQ(c->push.max_tree_depth, 20);
  EXPECT_EQ(c->push.max_entries, 5000);
  EXPECT_TRUE(c->push.distinguish_missing_apps);
  EXPECT_TRUE(c->deploy.allow_external_symlinks);
  EXPECT_EQ(c->keys.min_rsa_bits, 3072);
  EXPECT_EQ(c->log.destination.kind, log::Destination::Kind::kFile);
  EXPECT_EQ(c->log.destination.path, "/var/log/pushgate.log");
  EXPECT_EQ(c->log.level, log::Level::kDebug);
}

TEST(ConfigTest, BuildCommandStringIsSplitWithoutAShell) {
  Result<Config> c = ParseConfig("[build]\ncommand = \"/usr/bin/build  --app  $APP;rm\"\n", "t");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->build.command, (std::vector<std::string>{"/usr/bin/build", "--app", "$APP;rm"}));
}

TEST(ConfigTest, UnknownKeysAreErrorsNamingTheKey) {
  EXPECT_NE(ParseError("data_dri = \"/x\"").message().find("unknown key data_dri"), std::string::npos);
  EXPECT_NE(ParseError("[build]\ntimout = \"1s\"").message().find("unknown key build.timout"), std::string::npos);
  EXPECT_NE(ParseError("[bulid]\ntimeout = \"1s\"").message().find("unknown key bulid"), std::string::npos);
}

TEST(ConfigTest, UnknownKeysSuggestTheNearestKnownOne) {
  EXPECT_NE(ParseError("[biuld]\ntimeout = \"1s\"").message().find("unknown key biuld; did you mean build?"),
            std::string::npos);
  EXPECT_NE(ParseError("[build]\ntimout = \"1s\"").message().find("did you mean build.timeout?"), std::string::npos);
  EXPECT_NE(ParseError("data_dri = \"/x\"").message().find("did you mean data_dir?"), std::string::npos);
  EXPECT_NE(ParseError("gituser = \"git\"").message().find("did you mean git_user?"), std::string::npos);
  // Only the same table's keys are candidates; nothing near, nothing said.
  EXPECT_EQ(ParseError("[push]\ntimeout = \"1s\"").message().find("did you mean"), std::string::npos);
  EXPECT_EQ(ParseError("colour = \"blue\"").message().find("did you mean"), std::string::npos);
}

TEST(ConfigTest, BadValuesNameKeyAndLine) {
  Status s = ParseError("\n\n[build]\ntimeout = \"30\"\n");
  EXPECT_NE(s.message().find("test.toml:4"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("build.timeout"), std::string::npos) << s.message();
  EXPECT_NE(ParseError("build = 3").message().find("build must be a table"), std::string::npos);
  EXPECT_NE(ParseError("mode = \"cluster\"").message().find("mode must be"), std::string::npos);
  EXPECT_NE(ParseError("data_dir = \"relative/dir\"").message().find("data_dir"), std::string::npos);
  EXPECT_NE(ParseError("data_dir = \"/with space\"").message().find("data_dir"), std::string::npos);
  EXPECT_NE(ParseError("data_dir = 5").message().find("data_dir must be a string"), std::string::npos);
  EXPECT_NE(ParseError("git_user = \"Root\"").message().find("git_user"), std::string::npos);
  EXPECT_NE(ParseError("deploy_refs = []").message().find("deploy_refs"), std::string::npos);
  EXPECT_NE(ParseError("deploy_refs = [\"main\"]").message().find("refs/heads/main"), std::string::npos);
  EXPECT_NE(ParseError("deploy_refs = [1]").message().find("array of strings"), std::string::npos);
  EXPECT_NE(ParseError("[build]\ncommand = \"build.sh\"").message().find("absolute path"), std::string::npos);
  EXPECT_NE(ParseError("[build]\ncommand = []").message().find("build.command"), std::string::npos);
  EXPECT_NE(ParseError("[build]\ntimeout = \"0s\"").message().find("positive"), std::string::npos);
  EXPECT_NE(ParseError("[log]\nlevel = \"loud\"").message().find("log.level"), std::string::npos);
  EXPECT_NE(ParseError("[log]\ndestination = \"file.log\"").message().find("log.destination"), std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_file_size = \"1.5GiB\"").message().find("push.max_file_size"), std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_pack_size = 0").message().find("positive"), std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_entries = -1").message().find("push.max_entries"), std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_pushes_per_user = -1").message().find("push.max_pushes_per_user"),
            std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_requests_per_minute = \"many\"").message().find("push.max_requests_per_minute"),
            std::string::npos);
  EXPECT_NE(ParseError("[push]\nmax_tree_depth = \"64\"").message().find("a count"), std::string::npos);
  EXPECT_NE(ParseError("[deploy]\nallow_external_symlinks = \"yes\"").message().find("true or false"),
            std::string::npos);
  EXPECT_NE(ParseError("[keys]\nmin_rsa_bits = 512").message().find("keys.min_rsa_bits"), std::string::npos);
  EXPECT_NE(ParseError("[build]\nsource_compression = 0").message().find("build.source_compression"),
            std::string::npos);
  EXPECT_NE(ParseError("[build]\nsource_compression = 10").message().find("build.source_compression"),
            std::string::npos);
  EXPECT_NE(ParseError("[push]\nidle_timeout = \"10s\"").message().find("build.keepalive"), std::string::npos);
}

TEST(ConfigTest, SyntaxErrorsReportTheLine) {
  Status s = ParseError("mode = \"standalone\"\ndata_dir = \n");
  EXPECT_NE(s.message().find("test.toml:2"), std::string::npos) << s.message();
}

TEST(ConfigTest, CommonSyntaxErrorsAreSaidInPlainWords) {
  Status quote = ParseError("mode = \"standalone\"\ndata_dir = \"/var/lib/pushgate\ngit_user = \"git\"\n");
  EXPECT_NE(quote.message().find("test.toml:2: a string is missing its closing quote"), std::string::npos)
      << quote.message();
  EXPECT_NE(ParseError("data_dir = '/x").message().find("missing its closing quote"), std::string::npos);
  Status bare = ParseError("[build]\ntimeout = 30s\n");
  EXPECT_NE(bare.message().find("test.toml:2: a value is not valid: text, durations and sizes go in double quotes"),
            std::string::npos)
      << bare.message();
  EXPECT_NE(ParseError("mode = standalone").message().find("go in double quotes"), std::string::npos);
  EXPECT_NE(ParseError("[build\ntimeout = \"1s\"").message().find("missing its closing ]"), std::string::npos);
  EXPECT_NE(ParseError("[build]\n[build]\n").message().find("appears twice"), std::string::npos);
  // Anything else keeps toml++'s own description.
  EXPECT_NE(ParseError("x = [1, 2").message().find("end-of-file"), std::string::npos);
}

TEST(ConfigTest, ControllerModeReadsItsTables) {
  Result<Config> c = ParseConfig(R"(
mode = "controller"
[build]
driver = "workflow"
command = "/usr/libexec/pushgate/pushgate-build-image"
registry = "registry.example.com:5000"
[controller]
url = "https://controller.example.com/"
auth_header = "Authorization"
token_file = "/etc/pushgate/token"
ca_file = "/etc/pushgate/ca.pem"
connect_timeout = "500ms"
timeout = "5s"
[cache]
refresh_after = "15s"
positive_ttl = "2m"
negative_ttl = "5s"
max_staleness = "1h"
sync_deadline = "1500ms"
)",
                                 "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, Mode::kController);
  EXPECT_EQ(c->build.driver, BuildDriver::kWorkflow);
  EXPECT_EQ(c->build.registry, "registry.example.com:5000");
  EXPECT_EQ(c->controller.url, "https://controller.example.com");
  EXPECT_EQ(c->controller.auth_header, "Authorization");
  EXPECT_EQ(c->controller.token_file, "/etc/pushgate/token");
  EXPECT_EQ(c->controller.ca_file, "/etc/pushgate/ca.pem");
  EXPECT_EQ(c->controller.connect_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c->controller.timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->cache.refresh_after, std::chrono::seconds(15));
  EXPECT_EQ(c->cache.positive_ttl, std::chrono::minutes(2));
  EXPECT_EQ(c->cache.negative_ttl, std::chrono::seconds(5));
  EXPECT_EQ(c->cache.max_staleness, std::chrono::hours(1));
  EXPECT_EQ(c->cache.sync_deadline, std::chrono::milliseconds(1500));
}

TEST(ConfigTest, ControllerDefaultsMatchTheDocumentation) {
  Result<Config> c = ParseConfig("", "t");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->controller.auth_header, "X-Deis-Builder-Auth");
  EXPECT_EQ(c->controller.connect_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c->controller.timeout, std::chrono::seconds(3));
  EXPECT_EQ(c->cache.refresh_after, std::chrono::seconds(30));
  EXPECT_EQ(c->cache.max_staleness, std::chrono::minutes(10));
  EXPECT_EQ(c->cache.sync_deadline, std::chrono::seconds(2));
}

TEST(ConfigTest, ControllerModeNeedsUrlAndToken) {
  EXPECT_NE(ParseError("mode = \"controller\"").message().find("needs controller.url"), std::string::npos);
  EXPECT_NE(ParseError("mode = \"controller\"\n[controller]\nurl = \"http://c\"").message().find(
                "needs controller.token_file"),
            std::string::npos);
  EXPECT_NE(ParseError("[controller]\nurl = \"ftp://c\"").message().find("controller.url"), std::string::npos);
  EXPECT_NE(ParseError("[controller]\nurl = \"http://c x\"").message().find("controller.url"), std::string::npos);
  EXPECT_NE(ParseError("[controller]\nurl = \"https://u:p@c/\"").message().find("token_file"), std::string::npos);
  EXPECT_NE(ParseError("[controller]\nurl = \"http://u@c\"").message().find("credentials"), std::string::npos);
  EXPECT_NE(ParseError("[controller]\nauth_header = \"X: y\"").message().find("header name"), std::string::npos);
  EXPECT_NE(ParseError("[controller]\ntoken_file = \"token\"").message().find("absolute"), std::string::npos);
  EXPECT_NE(ParseError("[cache]\nrefresh_after = \"0s\"").message().find("positive"), std::string::npos);
  EXPECT_NE(ParseError("[cache]\nrefresh = \"1s\"").message().find("unknown key cache.refresh"),
            std::string::npos);
}

// Controller mode names its build driver; nothing guesses how a stock
// controller wants to be fed.
TEST(ConfigTest, BuildDriverIsExplicitInControllerMode) {
  const std::string controller = "mode = \"controller\"\n[controller]\nurl = \"http://c\"\ntoken_file = \"/t\"\n";
  Status unset = ParseError(controller);
  EXPECT_NE(unset.message().find("needs build.driver: \"workflow\""), std::string::npos) << unset.message();
  EXPECT_NE(unset.message().find("\"pushgate\""), std::string::npos);
  EXPECT_NE(unset.message().find("\"local\""), std::string::npos);
  EXPECT_NE(ParseError(controller + "[build]\ndriver = \"workflow\"\n").message().find("needs build.command"),
            std::string::npos);
  EXPECT_NE(ParseError(controller + "[build]\ndriver = \"pushgate\"\ncommand = \"/bin/true\"\n")
                .message()
                .find("remove build.command"),
            std::string::npos);
  EXPECT_NE(ParseError(controller + "[build]\ndriver = \"k8s\"\n").message().find("must be \"local\""),
            std::string::npos);
  Result<Config> pushgate = ParseConfig(controller + "[build]\ndriver = \"pushgate\"\n", "t");
  ASSERT_TRUE(pushgate.ok()) << pushgate.status().ToString();
  EXPECT_EQ(pushgate->build.driver, BuildDriver::kPushgate);
  Result<Config> local = ParseConfig(controller + "[build]\ndriver = \"local\"\n", "t");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->build.driver, BuildDriver::kLocal);
  EXPECT_NE(ParseError("[build]\ndriver = \"workflow\"\ncommand = \"/x\"\n").message().find("need mode"),
            std::string::npos);
  EXPECT_EQ(ParseConfig("", "t")->build.driver, BuildDriver::kLocal);
  EXPECT_NE(ParseError("[build]\nregistry = \"bad registry\"\n").message().find("build.registry"),
            std::string::npos);
}

TEST(ConfigTest, SshdDefaultsMatchTheDocumentation) {
  Result<Config> c = ParseConfig("data_dir = \"/srv/pg\"", "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sshd.listen.ToString(), "0.0.0.0:2222");
  EXPECT_EQ(c->sshd.host_keys,
            (std::vector<std::string>{"/srv/pg/sshd/ssh_host_ed25519_key", "/srv/pg/sshd/ssh_host_rsa_key"}));
  EXPECT_EQ(c->sshd.proxy_protocol, ProxyProtocol::kOff);
  EXPECT_EQ(c->sshd.grace_period, std::chrono::seconds(10));
  EXPECT_EQ(c->sshd.login_grace_time, std::chrono::seconds(30));
  EXPECT_EQ(c->sshd.max_connections, 1000);
  EXPECT_EQ(c->sshd.max_unauthenticated, 100);
  EXPECT_EQ(c->sshd.max_unauthenticated_per_source, 50);
  EXPECT_EQ(c->sshd.max_auth_tries, 6);
  EXPECT_EQ(c->sshd.max_sessions_per_user, 100);
  EXPECT_EQ(c->sshd.max_sessions_per_minute, 600);
  EXPECT_FALSE(c->sshd.allow_sha1_signatures);
}

TEST(ConfigTest, SshdTableReadsEveryKey) {
  Result<Config> c = ParseConfig(R"([sshd]
listen = "[::1]:2022"
host_keys = ["/etc/pushgate/host_ed25519"]
proxy_protocol = "optional"
proxy_trusted = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"]
grace_period = "30s"
login_grace_time = "5s"
max_connections = 50
max_unauthenticated = 10
max_unauthenticated_per_source = 3
max_auth_tries = 2
max_sessions_per_user = 0
max_sessions_per_minute = 60
allow_sha1_signatures = true
)",
                                 "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sshd.listen.ToString(), "[::1]:2022");
  EXPECT_EQ(c->sshd.host_keys, (std::vector<std::string>{"/etc/pushgate/host_ed25519"}));
  EXPECT_EQ(c->sshd.proxy_protocol, ProxyProtocol::kOptional);
  ASSERT_EQ(c->sshd.proxy_trusted.size(), 3u);
  EXPECT_EQ(c->sshd.proxy_trusted[2].ToString(), "192.0.2.10/32");
  EXPECT_EQ(c->sshd.grace_period, std::chrono::seconds(30));
  EXPECT_EQ(c->sshd.login_grace_time, std::chrono::seconds(5));
  EXPECT_EQ(c->sshd.max_connections, 50);
  EXPECT_EQ(c->sshd.max_unauthenticated, 10);
  EXPECT_EQ(c->sshd.max_unauthenticated_per_source, 3);
  EXPECT_EQ(c->sshd.max_auth_tries, 2);
  EXPECT_EQ(c->sshd.max_sessions_per_user, 0);
  EXPECT_EQ(c->sshd.max_sessions_per_minute, 60);
  EXPECT_TRUE(c->sshd.allow_sha1_signatures);
}

TEST(ConfigTest, SshdMistakesAreErrorsThatSayWhatToWrite) {
  EXPECT_NE(ParseError("[sshd]\nlisten = \"localhost:22\"").message().find("127.0.0.1:2222"), std::string::npos);
  EXPECT_NE(ParseError("[sshd]\nproxy_protocol = \"yes\"").message().find("\"off\", \"on\" or \"optional\""), std::string::npos);
  EXPECT_NE(ParseError("[sshd]\nproxy_trusted = [\"10.1.0.0/8\"]").message().find("did you mean 10.0.0.0/8?"), std::string::npos);
  EXPECT_NE(ParseError("[sshd]\nhost_keys = [\"relative/key\"]").message().find("absolute path"), std::string::npos);
  EXPECT_NE(ParseError("[sshd]\nhost_keys = []").message().find("1 to 8"), std::string::npos);
  // Trusting nobody's header while requiring one would refuse everyone;
  // the error names the key to set.
  EXPECT_NE(ParseError("[sshd]\nproxy_protocol = \"on\"").message().find("sshd.proxy_trusted"), std::string::npos);
  EXPECT_NE(ParseError("[sshd]\nmax_auth_tries = 0").message().find("sshd.max_auth_tries"), std::string::npos);
}

TEST(ConfigTest, LoadConfigReadsFileAndRemembersPath) {
  testing::TempDir dir;
  testing::WriteFile(dir / "pushgate.toml", "git_user = \"gitx\"\n");
  Result<Config> c = LoadConfig(dir / "pushgate.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->path, dir / "pushgate.toml");
  EXPECT_EQ(c->git_user, "gitx");
  EXPECT_EQ(LoadConfig("relative.toml").status().code(), Status::Code::kInvalidArgument);
  Result<Config> missing = LoadConfig(dir / "missing.toml");
  EXPECT_NE(missing.status().message().find("cannot read config"), std::string::npos);
}

}  // namespace
}  // namespace pushgate
