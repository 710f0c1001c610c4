#include "util/names.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>

namespace pushgate {
namespace {

// The documented patterns; the hand-written checks must agree with them.
const std::regex kAppPattern("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$");
const std::regex kUserPattern("^(?!-)(?!\\.{1,2}$)[A-Za-z0-9@.+_-]{1,150}$");
const std::regex kUnixUserPattern("^[a-z0-9][a-z0-9._-]{0,31}$");
const std::regex kLocalUserPattern("^[a-z0-9][a-z0-9._-]{0,63}$");

std::string RandomName(std::mt19937& rng, const std::string& alphabet, size_t max_len) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s(len(rng), ' ');
  for (char& c : s) c = alphabet[pick(rng)];
  return s;
}

TEST(NamesTest, AppNameAgreesWithDocumentedRegex) {
  std::mt19937 rng(42);
  const std::string alphabet = "az09-AZ._/ \n;'\"%\xc3\xa9";
  for (int i = 0; i < 200000; ++i) {
    std::string name = RandomName(rng, alphabet, 70);
    ASSERT_EQ(IsValidAppName(name), std::regex_match(name, kAppPattern)) << "'" << name << "'";
  }
}

TEST(NamesTest, UserNameAgreesWithDocumentedRegex) {
  std::mt19937 rng(7);
  const std::string alphabet = "az09-._AZ/ @+\n;\"'$~*?,=\xc3\xa9";
  for (int i = 0; i < 200000; ++i) {
    std::string name = RandomName(rng, alphabet, i % 2 == 0 ? 8 : 160);
    ASSERT_EQ(IsValidUserName(name), std::regex_match(name, kUserPattern)) << "'" << name << "'";
    ASSERT_EQ(IsValidUnixUserName(name), std::regex_match(name, kUnixUserPattern)) << "'" << name << "'";
    ASSERT_EQ(IsValidLocalUserName(name), std::regex_match(name, kLocalUserPattern)) << "'" << name << "'";
    if (IsValidLocalUserName(name)) {
      ASSERT_TRUE(IsValidUserName(name)) << "'" << name << "'";
    }
  }
}

// Django's usernames (Deis, Hephy, Drycc) log in and push as they are; what
// would be unsafe in the forced command line stays refused.
TEST(NamesTest, PlatformUserNames) {
  for (const char* name : {"alice", "Alice", "first.last", "ops@example.com", "a+b", "under_score", "x-1", "0"}) {
    EXPECT_TRUE(IsValidUserName(name)) << name;
  }
  EXPECT_TRUE(IsValidUserName(std::string(150, 'a')));
  EXPECT_FALSE(IsValidUserName(std::string(151, 'a')));
  for (const char* name : {"", "-x", ".", "..", "a b", "a\"b", "a,b", "a$b", "a~b", "a*b", "a/b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsValidUserName(name)) << name;
  }
}

TEST(NamesTest, AppNameBoundaries) {
  EXPECT_TRUE(IsValidAppName("a"));
  EXPECT_TRUE(IsValidAppName("my-app-2"));
  EXPECT_TRUE(IsValidAppName(std::string(63, 'a')));
  EXPECT_FALSE(IsValidAppName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidAppName(""));
  EXPECT_FALSE(IsValidAppName("-app"));
  EXPECT_FALSE(IsValidAppName("app-"));
  EXPECT_FALSE(IsValidAppName("App"));
  EXPECT_FALSE(IsValidAppName("../x"));
  EXPECT_FALSE(IsValidAppName("a;b"));
  EXPECT_FALSE(IsValidAppName("a.git"));
  EXPECT_FALSE(IsValidAppName("%2e%2e"));
  EXPECT_FALSE(IsValidAppName("\xd0\xb0pp"));  // Cyrillic look-alike 'а'
}

TEST(NamesTest, Sha256FingerprintShape) {
  EXPECT_TRUE(IsValidSha256Fingerprint("SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI"));
  EXPECT_FALSE(IsValidSha256Fingerprint("SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUt"));    // 42
  EXPECT_FALSE(IsValidSha256Fingerprint("SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI="));  // padded
  EXPECT_FALSE(IsValidSha256Fingerprint("SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtJ"));  // low bits set
  EXPECT_FALSE(IsValidSha256Fingerprint("sha256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI"));
  EXPECT_FALSE(IsValidSha256Fingerprint("SHA256:L65etgu\"QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI"));
  EXPECT_FALSE(IsValidSha256Fingerprint("MD5:e4:1f"));
}

TEST(NamesTest, KeyTypeAllowlist) {
  EXPECT_TRUE(IsAllowedKeyType("ssh-ed25519"));
  EXPECT_TRUE(IsAllowedKeyType("ecdsa-sha2-nistp521"));
  EXPECT_TRUE(IsAllowedKeyType("sk-ssh-ed25519@openssh.com"));
  EXPECT_FALSE(IsAllowedKeyType("ssh-dss"));
  EXPECT_FALSE(IsAllowedKeyType("ssh-ed25519-cert-v01@openssh.com"));
  EXPECT_FALSE(IsAllowedKeyType("SSH-ED25519"));
  EXPECT_FALSE(IsAllowedKeyType("ssh-ed25519 "));
}

TEST(NamesTest, Base64Blob) {
  EXPECT_TRUE(IsBase64Blob("AAAAC3NzaC1lZDI1NTE5AAAAIEKUSxW6sncsk8eTshb0JCRgFUTKcmKtWycPbj9ibjV6"));
  EXPECT_TRUE(IsBase64Blob("QUJD"));
  EXPECT_TRUE(IsBase64Blob("QUI="));
  EXPECT_TRUE(IsBase64Blob("QQ=="));
  EXPECT_FALSE(IsBase64Blob("Q==="));
  EXPECT_FALSE(IsBase64Blob("QU=I"));
  EXPECT_FALSE(IsBase64Blob("QUJ"));
  EXPECT_FALSE(IsBase64Blob(""));
  EXPECT_FALSE(IsBase64Blob("QUJD\n"));
  EXPECT_FALSE(IsBase64Blob("QUJD\"QUJD"));
  EXPECT_FALSE(IsBase64Blob(std::string(16388, 'A')));
}

TEST(NamesTest, SafeAbsolutePath) {
  EXPECT_TRUE(IsSafeAbsolutePath("/etc/pushgate/pushgate.toml"));
  EXPECT_TRUE(IsSafeAbsolutePath("/opt/pushgate-1.0/libexec/pushgate+x/a_b"));
  EXPECT_FALSE(IsSafeAbsolutePath("etc/pushgate.toml"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/push gate.toml"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/\"x"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/$(id)"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/../root"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/./x"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc//x"));
  EXPECT_FALSE(IsSafeAbsolutePath("/etc/x\n"));
}

TEST(NamesTest, BranchRef) {
  EXPECT_TRUE(IsValidBranchRef("refs/heads/main"));
  EXPECT_TRUE(IsValidBranchRef("refs/heads/release/v1.2"));
  EXPECT_FALSE(IsValidBranchRef("refs/tags/v1"));
  EXPECT_FALSE(IsValidBranchRef("refs/heads/"));
  EXPECT_FALSE(IsValidBranchRef("refs/heads/../x"));
  EXPECT_FALSE(IsValidBranchRef("refs/heads/x.lock"));
  EXPECT_FALSE(IsValidBranchRef("refs/heads/-x"));
  EXPECT_FALSE(IsValidBranchRef("main"));
}

}  // namespace
TEST(NamesTest, DeployKeyOwnerRoundTripsAndIsNeverAUser) {
  std::string owner = DeployKeyOwner("web", "ci-main");
  EXPECT_EQ(owner, "deploy-key:web:ci-main");
  std::optional<DeployKeyId> id = ParseDeployKeyOwner(owner);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->app, "web");
  EXPECT_EQ(id->name, "ci-main");
  EXPECT_FALSE(IsValidUserName(owner));
  EXPECT_TRUE(IsValidKeyOwner(owner));
  EXPECT_TRUE(IsValidKeyOwner("alice"));
  // Safe inside command="..." and as a shell word, as a user name is.
  EXPECT_EQ(owner.find_first_of(" \t'\"\\$`;&|<>*?~"), std::string::npos);
  for (const char* bad : {"deploy-key:", "deploy-key:web", "deploy-key:web:", "deploy-key::ci", "deploy-key:Web:ci",
                          "deploy-key:web:ci:x", "deploy-key:web:-ci", "deploy-key:web:c i", "deploy-keys:web:ci",
                          "alice"}) {
    EXPECT_FALSE(ParseDeployKeyOwner(bad)) << bad;
  }
  EXPECT_FALSE(IsValidKeyOwner("deploy-key:web:ci;id"));
}

TEST(NamesTest, PusherIsAUserOrADeployKey) {
  EXPECT_EQ(DeployKeyPusher("ci"), "deploy-key:ci");
  EXPECT_EQ(PusherOf("deploy-key:web:ci"), "deploy-key:ci");
  EXPECT_EQ(PusherOf("alice"), "alice");
  EXPECT_TRUE(IsValidPusher("alice"));
  EXPECT_TRUE(IsValidPusher("deploy-key:ci"));
  EXPECT_FALSE(IsValidPusher("deploy-key:"));
  EXPECT_FALSE(IsValidPusher("deploy-key:web:ci"));
  EXPECT_FALSE(IsValidPusher("deploy-key:$(id)"));
}

}  // namespace pushgate
