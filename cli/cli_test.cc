// The admin CLI and the other programs as an operator meets them: the built
// binaries run with real command lines, their messages and exit statuses
// checked (usage errors exit 2 everywhere).
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/testing.h"
#include "util/fd.h"
#include "util/process.h"

namespace pushgate {
namespace {

using testing::RunCommand;
using testing::TempDir;
using testing::WriteFile;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The registry belongs to whoever runs the test: git_user is this user.
    struct passwd* me = ::getpwuid(::geteuid());
    ASSERT_NE(me, nullptr);
    config_ = dir_ / "pushgate.toml";
    WriteFile(config_, "data_dir = \"" + (dir_ / "data") + "\"\ngit_user = \"" + me->pw_name + "\"\n");
    key_ = testing::MakeKey(dir_.path(), "alice");
  }

  CapturedRun Cli(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                  const std::string& cwd = "") {
    args.insert(args.begin(), PUSHGATE_CLI_BIN);
    return RunCommand(args, env, cwd);
  }
  CapturedRun CliWithConfig(const std::vector<std::string>& args) { return Cli(args, {{"PUSHGATE_CONFIG", config_}}); }

  TempDir dir_;
  std::string config_;
  testing::TestKey key_;
};

TEST_F(CliTest, UsageErrorsNameTheWrongWordPointAtHelpAndExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string help;
  };
  const std::vector<Case> cases = {
      {{"usr", "add", "x"}, "pushgate: unknown command 'usr'; did you mean user?", "pushgate"},
      {{"apps", "ls"}, "unknown command 'apps'; did you mean app? (the commands are user, key, app", "pushgate"},
      {{"app", "list"}, "pushgate app: unknown command 'list' (the commands are create, rm, ls, grant, revoke, key)",
       "pushgate app"},
      {{"frobnicate"}, "pushgate: unknown command 'frobnicate' (the commands are", "pushgate"},
      {{"app"}, "pushgate app: say which command: create, rm, ls, grant, revoke, key\n", "pushgate app"},
      {{}, "pushgate: say which command: user, key, app, ca, config, release, backup, status, drain", "pushgate"},
      {{"app", "create", "-x"}, "pushgate app create: unknown option -x", "pushgate app create"},
      {{"app", "create", "web", "--membr", "a"}, "pushgate app create: unknown option --membr", "pushgate app create"},
      {{"user", "add", "a", "b"}, "pushgate user add: too many arguments: b", "pushgate user add"},
      {{"user", "add"}, "pushgate user add: USER is required", "pushgate user add"},
      {{"drain", "maybe"}, "pushgate drain: STATE: maybe not in {on,off}", "pushgate drain"},
      {{"--bogus"}, "pushgate: unknown option --bogus", "pushgate"},
  };
  for (const Case& c : cases) {
    CapturedRun run = CliWithConfig(c.args);
    std::string what = c.args.empty() ? "(no arguments)" : c.args.front();
    EXPECT_EQ(run.status.code, 2) << what << ": " << run.output;
    EXPECT_TRUE(Contains(run.output, c.message)) << what << ": " << run.output;
    EXPECT_TRUE(Contains(run.output, "Try '" + c.help + " --help'.")) << what << ": " << run.output;
  }
}

TEST_F(CliTest, HelpAndVersionExit0) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"app", "--help"}, {"app", "create", "--help"}, {"--version"}}) {
    CapturedRun run = Cli(args);
    EXPECT_EQ(run.status.code, 0) << args.front() << ": " << run.output;
  }
  EXPECT_TRUE(Contains(Cli({"app", "--help"}).output, "grant"));
}

TEST_F(CliTest, EveryProgramExits2OnAUsageError) {
  for (const char* program : {PUSHGATE_SYNC_BIN, PUSHGATE_REAPER_BIN, PUSHGATE_HOOK_BIN, PUSHGATE_DEPLOY_BIN,
                              PUSHGATE_SHELL_BIN, PUSHGATE_BUILD_IMAGE_BIN}) {
    CapturedRun run = RunCommand({program, "--no-such-option"});
    EXPECT_EQ(run.status.code, 2) << program << ": " << run.output;
    EXPECT_TRUE(Contains(run.output, "unknown option --no-such-option")) << program << ": " << run.output;
    EXPECT_TRUE(Contains(run.output, "--help'.")) << program << ": " << run.output;
  }
  // The keys helper stays lean (no CLI11) and the entrypoint is a script:
  // the same exit status, their own words.
  CapturedRun keys = RunCommand({PUSHGATE_KEYS_BIN, "--no-such-option"});
  EXPECT_EQ(keys.status.code, 2) << keys.output;
  EXPECT_TRUE(Contains(keys.output, "usage: pushgate-keys")) << keys.output;
  CapturedRun entrypoint = RunCommand({"/bin/sh", PUSHGATE_ENTRYPOINT, "--no-such-option"});
  EXPECT_EQ(entrypoint.status.code, 2) << entrypoint.output;
  EXPECT_TRUE(Contains(entrypoint.output, "unknown option --no-such-option")) << entrypoint.output;
}

TEST_F(CliTest, ConfigMayFollowTheCommandComeFromTheEnvironmentOrBeRelative) {
  CapturedRun after = Cli({"user", "add", "alice", "--config", config_});
  EXPECT_EQ(after.status.code, 0) << after.output;
  CapturedRun from_env = Cli({"user", "ls"}, {{"PUSHGATE_CONFIG", config_}});
  EXPECT_EQ(from_env.status.code, 0) << from_env.output;
  EXPECT_TRUE(Contains(from_env.output, "alice")) << from_env.output;
  CapturedRun relative = Cli({"--config", "pushgate.toml", "user", "ls"}, {}, dir_.path());
  EXPECT_EQ(relative.status.code, 0) << relative.output;
  EXPECT_TRUE(Contains(relative.output, "alice")) << relative.output;
  // --config wins over the environment.
  CapturedRun both = Cli({"user", "ls", "--config", config_}, {{"PUSHGATE_CONFIG", dir_ / "nothing.toml"}});
  EXPECT_EQ(both.status.code, 0) << both.output;
}

TEST_F(CliTest, AMissingConfigSaysHowToNameOne) {
  CapturedRun run = Cli({"user", "ls"}, {{"PUSHGATE_CONFIG", dir_ / "nothing.toml"}});
  EXPECT_EQ(run.status.code, 1) << run.output;
  EXPECT_TRUE(Contains(run.output, dir_ / "nothing.toml")) << run.output;
  EXPECT_TRUE(Contains(run.output, "--config FILE or export PUSHGATE_CONFIG=FILE")) << run.output;
}

TEST_F(CliTest, AConfigTypoSuggestsTheKeyAndASyntaxErrorIsPlain) {
  WriteFile(config_, "data_dir = \"" + (dir_ / "data") + "\"\n[biuld]\ntimeout = \"1m\"\n");
  CapturedRun typo = CliWithConfig({"config", "check", "--file-only"});
  EXPECT_EQ(typo.status.code, 1) << typo.output;
  EXPECT_TRUE(Contains(typo.output, config_ + ":2: unknown key biuld; did you mean build?")) << typo.output;
  WriteFile(config_, "data_dir = \"/var/lib/pushgate\ngit_user = \"git\"\n");
  CapturedRun quote = CliWithConfig({"config", "check", "--file-only"});
  EXPECT_EQ(quote.status.code, 1) << quote.output;
  EXPECT_TRUE(Contains(quote.output, config_ + ":1: a string is missing its closing quote")) << quote.output;
}

TEST_F(CliTest, KeyAddRefusesATerminalAndNamesAPrivateKey) {
  ASSERT_EQ(CliWithConfig({"user", "add", "alice"}).status.code, 0);

  UniqueFd terminal(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(terminal.valid());
  ASSERT_EQ(::grantpt(terminal.get()), 0);
  ASSERT_EQ(::unlockpt(terminal.get()), 0);
  UniqueFd stdin_tty(::open(::ptsname(terminal.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(stdin_tty.valid());
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  UniqueFd out_read(out[0]), out_write(out[1]);
  SpawnSpec spec;
  spec.path = PUSHGATE_CLI_BIN;
  spec.argv = {"pushgate", "--config", config_, "key", "add", "alice"};
  spec.stdin_fd = stdin_tty.get();
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = out_write.get();
  Result<pid_t> pid = Spawn(spec);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  out_write.Reset();
  // Without the check it would wait for keys forever; the test would time out.
  Result<ExitStatus> exit = WaitForExit(*pid);
  ASSERT_TRUE(exit.ok());
  std::string output(4096, '\0');
  ssize_t n = ::read(out_read.get(), output.data(), output.size());
  output.resize(n > 0 ? static_cast<size_t>(n) : 0);
  EXPECT_EQ(exit->code, 1) << output;
  EXPECT_TRUE(Contains(output, "not reading keys from a terminal: give the public key file")) << output;

  CapturedRun private_key = CliWithConfig({"key", "add", "alice", key_.private_path});
  EXPECT_EQ(private_key.status.code, 1) << private_key.output;
  EXPECT_TRUE(Contains(private_key.output, "this is a private key; give the .pub file")) << private_key.output;
  EXPECT_TRUE(Contains(private_key.output, "no keys were added")) << private_key.output;
  EXPECT_FALSE(Contains(private_key.output, "OPENSSH PRIVATE KEY")) << private_key.output;

  CapturedRun public_key = CliWithConfig({"key", "add", "alice", key_.private_path + ".pub"});
  EXPECT_EQ(public_key.status.code, 0) << public_key.output;
}

TEST_F(CliTest, GrantAndRevokeAreIdempotent) {
  ASSERT_EQ(CliWithConfig({"user", "add", "alice"}).status.code, 0);
  ASSERT_EQ(CliWithConfig({"app", "create", "web"}).status.code, 0);
  CapturedRun grant = CliWithConfig({"app", "grant", "web", "alice"});
  EXPECT_EQ(grant.status.code, 0) << grant.output;
  EXPECT_TRUE(Contains(grant.output, "granted alice access to web")) << grant.output;
  CapturedRun again = CliWithConfig({"app", "grant", "web", "alice"});
  EXPECT_EQ(again.status.code, 0) << again.output;
  EXPECT_TRUE(Contains(again.output, "alice already has access to web; nothing changed")) << again.output;
  CapturedRun revoke = CliWithConfig({"app", "revoke", "web", "alice"});
  EXPECT_EQ(revoke.status.code, 0) << revoke.output;
  EXPECT_TRUE(Contains(revoke.output, "revoked alice's access to web")) << revoke.output;
  CapturedRun revoke_again = CliWithConfig({"app", "revoke", "web", "alice"});
  EXPECT_EQ(revoke_again.status.code, 0) << revoke_again.output;
  EXPECT_TRUE(Contains(revoke_again.output, "alice has no access to web; nothing changed")) << revoke_again.output;
  // A missing app or user is still an error, not "nothing changed".
  CapturedRun missing = CliWithConfig({"app", "revoke", "api", "alice"});
  EXPECT_EQ(missing.status.code, 1) << missing.output;
}

TEST_F(CliTest, AppKeyAddListsAndRemovesDeployKeys) {
  ASSERT_EQ(CliWithConfig({"app", "create", "web"}).status.code, 0);
  CapturedRun added = CliWithConfig({"app", "key", "add", "web", "--push", "ci", key_.private_path + ".pub"});
  EXPECT_EQ(added.status.code, 0) << added.output;
  EXPECT_TRUE(Contains(added.output, "added deploy key ci (" + key_.sha256 + ") to web: push and fetch")) << added.output;
  testing::TestKey reader = testing::MakeKey(dir_.path(), "reader");
  CapturedRun read_only = CliWithConfig({"app", "key", "add", "web", "mirror", reader.private_path + ".pub"});
  EXPECT_TRUE(Contains(read_only.output, "fetch only")) << read_only.output;

  CapturedRun listed = CliWithConfig({"app", "key", "ls", "web"});
  EXPECT_EQ(listed.status.code, 0) << listed.output;
  EXPECT_TRUE(Contains(listed.output, "ci  push  " + key_.sha256)) << listed.output;
  EXPECT_TRUE(Contains(listed.output, "mirror  fetch  " + reader.sha256)) << listed.output;
  // Not a user's key, not a member.
  EXPECT_FALSE(Contains(CliWithConfig({"key", "ls"}).output, key_.sha256));
  EXPECT_TRUE(Contains(CliWithConfig({"app", "ls"}).output, "web  -"));

  // Exactly one key per deploy key.
  WriteFile(dir_ / "two.pub", key_.public_line + "\n" + reader.public_line + "\n");
  CapturedRun two = CliWithConfig({"app", "key", "add", "web", "pair", dir_ / "two.pub"});
  EXPECT_EQ(two.status.code, 1) << two.output;
  EXPECT_TRUE(Contains(two.output, "holds 2 public keys; a deploy key is exactly one")) << two.output;

  CapturedRun removed = CliWithConfig({"app", "key", "rm", "web", "ci"});
  EXPECT_EQ(removed.status.code, 0) << removed.output;
  EXPECT_TRUE(Contains(removed.output, "removed deploy key ci of web")) << removed.output;
  EXPECT_FALSE(Contains(CliWithConfig({"app", "key", "ls", "web"}).output, key_.sha256));
  CapturedRun again = CliWithConfig({"app", "key", "rm", "web", "ci"});
  EXPECT_EQ(again.status.code, 1) << again.output;
  EXPECT_TRUE(Contains(again.output, "app web has no deploy key named ci")) << again.output;
}

TEST_F(CliTest, CaAddWritesSshdsFileAndPrincipalsMapToUsers) {
  testing::TestKey ca = testing::MakeKey(dir_.path(), "user_ca");
  CapturedRun added = CliWithConfig({"ca", "add", ca.private_path + ".pub"});
  EXPECT_EQ(added.status.code, 0) << added.output;
  EXPECT_TRUE(Contains(added.output, "trusted CA " + ca.sha256)) << added.output;
  std::string file = testing::ReadFile(dir_ / "data/ssh/trusted_user_ca_keys");
  EXPECT_TRUE(Contains(file, "\n" + ca.type + " " + ca.blob + " test@pushgate\n")) << file;
  EXPECT_TRUE(Contains(CliWithConfig({"ca", "ls"}).output, ca.sha256 + "  ssh-ed25519  test@pushgate"));
  CapturedRun twice = CliWithConfig({"ca", "add", ca.private_path + ".pub"});
  EXPECT_EQ(twice.status.code, 1) << twice.output;
  EXPECT_TRUE(Contains(twice.output, "is already trusted")) << twice.output;

  ASSERT_EQ(CliWithConfig({"user", "add", "alice"}).status.code, 0);
  CapturedRun mapped = CliWithConfig({"user", "principal", "add", "alice", "alice@corp.example"});
  EXPECT_EQ(mapped.status.code, 0) << mapped.output;
  EXPECT_TRUE(Contains(CliWithConfig({"user", "principal", "ls"}).output, "alice@corp.example  alice"));
  CapturedRun bad = CliWithConfig({"user", "principal", "add", "alice", "two words"});
  EXPECT_EQ(bad.status.code, 1) << bad.output;
  EXPECT_TRUE(Contains(bad.output, "is not a principal pushgate accepts")) << bad.output;
  EXPECT_EQ(CliWithConfig({"user", "principal", "rm", "alice", "alice@corp.example"}).status.code, 0);
  EXPECT_EQ(CliWithConfig({"user", "principal", "ls", "alice"}).output, "");

  CapturedRun removed = CliWithConfig({"ca", "rm", ca.sha256});
  EXPECT_EQ(removed.status.code, 0) << removed.output;
  EXPECT_FALSE(Contains(testing::ReadFile(dir_ / "data/ssh/trusted_user_ca_keys"), ca.blob));
  EXPECT_EQ(CliWithConfig({"ca", "rm", ca.sha256}).status.code, 1);
}

TEST_F(CliTest, DeployKeysAndReleasesAreRefusedInControllerMode) {
  struct passwd* me = ::getpwuid(::geteuid());
  ASSERT_NE(me, nullptr);
  WriteFile(dir_ / "token", "t", 0600);
  WriteFile(config_, "mode = \"controller\"\ndata_dir = \"" + (dir_ / "data") + "\"\ngit_user = \"" + me->pw_name +
                         "\"\n[build]\ndriver = \"pushgate\"\n[controller]\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"" + (dir_ / "token") + "\"\n");
  CapturedRun key = CliWithConfig({"app", "key", "add", "web", "ci", key_.private_path + ".pub"});
  EXPECT_EQ(key.status.code, 1) << key.output;
  EXPECT_TRUE(Contains(key.output, "deploy keys belong to standalone mode; in controller mode the platform keeps them"))
      << key.output;
  CapturedRun releases = CliWithConfig({"release", "ls", "web"});
  EXPECT_EQ(releases.status.code, 1) << releases.output;
  EXPECT_TRUE(Contains(releases.output, "releases belong to standalone mode")) << releases.output;
  CapturedRun ca = CliWithConfig({"ca", "add", key_.private_path + ".pub"});
  EXPECT_EQ(ca.status.code, 1) << ca.output;
  EXPECT_TRUE(Contains(ca.output, "SSH certificate authorities belong to standalone mode")) << ca.output;
}

}  // namespace
}  // namespace pushgate
