// End-to-end: who may do what, through either front end with the real git
// and ssh clients: deploy keys.
#include <gtest/gtest.h>

#include <string>

#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class AccessTest : public SharedGatewayTest<AccessTest> {
 public:
  static GatewayOptions Options() { return {}; }

 protected:
  CapturedRun Push(const TestKey& key, const std::string& dir, const std::string& app) {
    return gateway_->Git(key, {"push", gateway_->Url(app), "main"}, dir);
  }
  TestKey NewKey(const std::string& name) { return MakeKey(keys_->path(), name); }

  TempDir work_;
};

// A read-only deploy key fetches its app and nothing else; its push is
// refused with what to ask the operator for.
TEST_F(AccessTest, AReadOnlyDeployKeyFetchesItsAppOnly) {
  gateway_->AdminOk({"app", "create", "ro-web", "--member", "alice"});
  gateway_->AdminOk({"app", "create", "ro-other", "--member", "alice"});
  std::string commit;
  std::string dir = work_ / "ro";
  commit = MakeRepoWithCommit(dir, {{"README", "deploy keys\n"}});
  ASSERT_TRUE(Push(*alice_, dir, "ro-web").status.success());
  ASSERT_TRUE(Push(*alice_, dir, "ro-other").status.success());
  TestKey mirror = NewKey("mirror");
  gateway_->AdminOk({"app", "key", "add", "ro-web", "mirror", mirror.private_path + ".pub"});

  CapturedRun clone = gateway_->Git(mirror, {"clone", "-q", gateway_->Url("ro-web"), work_ / "clone"}, work_.path());
  ASSERT_TRUE(clone.status.success()) << clone.output;
  EXPECT_EQ(ReadFile(work_ / "clone/README"), "deploy keys\n");

  CapturedRun push = Push(mirror, dir, "ro-web");
  EXPECT_FALSE(push.status.success());
  EXPECT_TRUE(Contains(push.output, "deploy key mirror may fetch ro-web but not push to it")) << push.output;

  CapturedRun other = gateway_->Git(mirror, {"clone", "-q", gateway_->Url("ro-other"), work_ / "other"}, work_.path());
  EXPECT_FALSE(other.status.success());
  EXPECT_TRUE(Contains(other.output, "App ro-other does not exist or you do not have access to it")) << other.output;
  EXPECT_FALSE(PathExists(work_ / "other/README"));

  // Removing it takes effect on the next connection.
  gateway_->AdminOk({"app", "key", "rm", "ro-web", "mirror"});
  CapturedRun removed = gateway_->Git(mirror, {"ls-remote", gateway_->Url("ro-web")}, work_.path());
  EXPECT_FALSE(removed.status.success());
  EXPECT_FALSE(Contains(removed.output, commit)) << removed.output;
}

// A CI system pushes with a deploy key added with --push: the build and
// the log name it deploy-key:NAME, and it is no member of the app.
TEST_F(AccessTest, ACiDeployKeyPushesAsDeployKeyName) {
  gateway_->AdminOk({"app", "create", "ci-web", "--member", "alice"});
  gateway_->SetBuild("ci-web", "echo \"built for $PUSHGATE_USER\"");
  TestKey ci = NewKey("ci");
  gateway_->AdminOk({"app", "key", "add", "ci-web", "--push", "ci", ci.private_path + ".pub"});
  std::string dir = work_ / "ci";
  MakeRepoWithCommit(dir, {{"app.txt", "v1\n"}});
  CapturedRun push = Push(ci, dir, "ci-web");
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_TRUE(Contains(push.output, "built for deploy-key:ci")) << push.output;
  EXPECT_TRUE(Contains(ReadFile(gateway_->data_dir() + "/pushgate.log"), "\"user\":\"deploy-key:ci\"")) << "the log names the deploy key";
  EXPECT_TRUE(Contains(gateway_->AdminOk({"app", "ls"}), "ci-web  alice\n"));

  // Its key cannot be registered to anyone else while it is a deploy key.
  CapturedRun again = gateway_->Admin({"key", "add", "alice", ci.private_path + ".pub"});
  EXPECT_EQ(again.status.code, 1) << again.output;
  EXPECT_TRUE(Contains(again.output, "already registered to deploy key ci of app ci-web")) << again.output;

  // Removing the app removes the deploy key: the key no longer logs in.
  gateway_->AdminOk({"app", "rm", "ci-web"});
  CapturedRun gone = gateway_->Ssh(ci, {"-T", "127.0.0.1"});
  EXPECT_EQ(gone.status.code, 255) << gone.output;
  EXPECT_TRUE(Contains(gone.output, "Permission denied")) << gone.output;
}

}  // namespace
}  // namespace pushgate::testing
