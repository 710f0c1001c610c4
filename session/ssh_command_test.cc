#include "session/ssh_command.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

void ExpectGit(const std::string& command, GitService service, const std::string& app) {
  ParsedSshCommand p = ParseSshCommand(command);
  ASSERT_TRUE(p.ok) << command;
  EXPECT_EQ(p.command.service, service) << command;
  EXPECT_EQ(p.command.app, app) << command;
}

void ExpectNotGit(const std::string& command) {
  ParsedSshCommand p = ParseSshCommand(command);
  EXPECT_FALSE(p.ok) << command;
  EXPECT_EQ(p.error.kind, SshCommandError::Kind::kNotGit) << command;
}

void ExpectBadName(const std::string& command) {
  ParsedSshCommand p = ParseSshCommand(command);
  EXPECT_FALSE(p.ok) << command;
  EXPECT_EQ(p.error.kind, SshCommandError::Kind::kInvalidAppName) << command;
}

TEST(SshCommandTest, AcceptsEveryGitSpelling) {
  ExpectGit("git-receive-pack '/myapp.git'", GitService::kReceivePack, "myapp");
  ExpectGit("git-receive-pack 'myapp.git'", GitService::kReceivePack, "myapp");
  ExpectGit("git-receive-pack 'myapp'", GitService::kReceivePack, "myapp");
  ExpectGit("git receive-pack '/myapp.git'", GitService::kReceivePack, "myapp");
  ExpectGit("git-upload-pack '/my-app-2.git'", GitService::kUploadPack, "my-app-2");
  ExpectGit("git upload-pack 'myapp'", GitService::kUploadPack, "myapp");
  ExpectGit("git-receive-pack /myapp.git", GitService::kReceivePack, "myapp");
}

TEST(SshCommandTest, InteractiveAndOtherCommandsAreNotGit) {
  ExpectNotGit("");
  ExpectNotGit("ls");
  ExpectNotGit("bash");
  ExpectNotGit("git-upload-archive 'myapp.git'");
  ExpectNotGit("git-receive-pack");
  ExpectNotGit("git-receive-pack ");
  ExpectNotGit("GIT-RECEIVE-PACK 'myapp.git'");
  ExpectNotGit(" git-receive-pack 'myapp.git'");
  ExpectNotGit("git-receive-pack  'myapp.git'");
  ExpectNotGit("scp -t /tmp");
}

// One case per attack class from docs/security.md.
TEST(SshCommandTest, ShellInjectionIsRefused) {
  ExpectNotGit("git-receive-pack 'myapp.git'; rm -rf /");
  ExpectNotGit("git-receive-pack 'myapp.git' && id");
  ExpectNotGit("git-receive-pack 'myapp.git'\nid");
  ExpectBadName("git-receive-pack '`id`'");
  ExpectBadName("git-receive-pack '$(id)'");
  ExpectBadName("git-receive-pack 'a;b'");
  ExpectNotGit("git-receive-pack 'my'app'");
  ExpectNotGit("git-receive-pack \"myapp.git\"");
}

TEST(SshCommandTest, ArgumentInjectionIsRefused) {
  ExpectBadName("git-upload-pack '--upload-pack=touch /tmp/x'");
  ExpectNotGit("git-upload-pack --upload-pack=id 'myapp.git'");
  ExpectBadName("git-receive-pack '-myapp'");
  ExpectBadName("git-receive-pack '--help'");
  ExpectNotGit("git-receive-pack 'myapp.git' --strict");
  ExpectNotGit("git-receive-pack 'a' 'b'");
}

TEST(SshCommandTest, PathTraversalAndAliasingAreRefused) {
  ExpectBadName("git-receive-pack '../x'");
  ExpectBadName("git-receive-pack '/../../etc/passwd'");
  ExpectBadName("git-receive-pack '//myapp.git'");
  ExpectBadName("git-receive-pack '/srv/repos/myapp.git'");
  ExpectBadName("git-receive-pack '%2e%2e'");
  ExpectBadName("git-receive-pack 'myapp.git/'");
  ExpectBadName("git-receive-pack 'myapp.git.git'");
  ExpectBadName("git-receive-pack 'MyApp'");
  ExpectBadName("git-receive-pack '\xd0\xbcyapp'");  // Cyrillic look-alike
  ExpectBadName("git-receive-pack '.git'");
  ExpectBadName("git-receive-pack ''");
  ExpectBadName("git-receive-pack '~/myapp'");
}

TEST(SshCommandTest, VeryLongInputIsRefused) {
  ExpectNotGit("git-receive-pack '" + std::string(100000, 'a') + "'");
}

TEST(SshCommandTest, ErrorRepositoryIsPrintable) {
  ParsedSshCommand p = ParseSshCommand("git-receive-pack 'a\x1b[31mb'");
  ASSERT_FALSE(p.ok);
  EXPECT_EQ(p.error.repository, "a?[31mb");
}

}  // namespace
}  // namespace pushgate
