#include "sshd-plugin/certificates.h"

#include <gtest/gtest.h>

#include <ctime>

#include "registry/registry.h"
#include "sshcert/signature.h"
#include "sshkey/sshkey.h"
#include "tests/testing/testing.h"
#include "util/fs.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

using testing::MakeKey;
using testing::TempDir;
using testing::TestKey;

class CertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = "/etc/pushgate/pushgate.toml";
    config_.data_dir = dir_.path();
    config_.git_user = "git";
    ca_ = MakeKey(dir_.path(), "ca");
    user_key_ = MakeKey(dir_.path(), "laptop");
    auto registry = Registry::Open(config_.dirs().Db(), KeyCache::Access::kReadWrite);
    ASSERT_TRUE(registry.ok());
    registry_ = std::move(*registry);
    ASSERT_TRUE(registry_->AddUser("alice").ok());
    ASSERT_TRUE(registry_->AddUser("bob").ok());
    ASSERT_TRUE(registry_->AddCaKey(*ParsePublicKeyLine(ca_.public_line)).ok());
  }

  // The decision for a certificate of user_key_ signed by `ca` with these
  // ssh-keygen arguments.
  CertificateLogin Decide(const std::vector<std::string>& args, const TestKey* ca = nullptr) {
    const TestKey& signer = ca ? *ca : ca_;
    Result<Certificate> cert = ParseCertificate(*DecodeBase64(testing::SignUserKey(signer, user_key_, "id", args)));
    EXPECT_TRUE(cert.ok());
    std::string ca_fp = Sha256Fingerprint(cert->signature_key);
    std::string digest = Sha256(cert->plain_key);
    Result<CertificateLogin> login =
        AuthorizeCertificate(config_, {*cert, ca_fp, digest, static_cast<uint64_t>(::time(nullptr))});
    EXPECT_TRUE(login.ok()) << login.status().message();
    return login.ok() ? *login : CertificateLogin{"", "", "error: " + login.status().message()};
  }

  TempDir dir_;
  Config config_;
  TestKey ca_;
  TestKey user_key_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(CertificatesTest, APrincipalEqualToAUserNameLogsInAsThatUser) {
  CertificateLogin login = Decide({"-n", "nobody,alice"});
  EXPECT_EQ(login.user, "alice") << login.refusal;
  EXPECT_EQ(login.principal, "alice");
}

TEST_F(CertificatesTest, AnExplicitMappingNamesItsUser) {
  ASSERT_TRUE(registry_->AddPrincipal("bob", "bob@corp.example").ok());
  CertificateLogin login = Decide({"-n", "bob@corp.example"});
  EXPECT_EQ(login.user, "bob") << login.refusal;
  EXPECT_EQ(login.principal, "bob@corp.example");
}

TEST_F(CertificatesTest, PrincipalsThatNameNobodyOrTwoUsersAreRefused) {
  EXPECT_EQ(Decide({"-n", "carol,root"}).refusal, "none of its principals names a pushgate user");
  EXPECT_EQ(Decide({"-n", "alice,bob"}).refusal, "its principals name more than one user (alice and bob)");
  // Two principals of the same user are one user.
  ASSERT_TRUE(registry_->AddPrincipal("alice", "ops-alice").ok());
  EXPECT_EQ(Decide({"-n", "ops-alice,alice"}).user, "alice");
  // A principal that could not be a user name is skipped, never matched.
  EXPECT_EQ(Decide({"-n", "alice bob"}).user, "");
}

TEST_F(CertificatesTest, AnUntrustedOrRemovedCaIsRefused) {
  TestKey other = MakeKey(dir_.path(), "other-ca");
  EXPECT_NE(Decide({"-n", "alice"}, &other).refusal.find("is not trusted"), std::string::npos);
  ASSERT_TRUE(registry_->RemoveCaKey(ca_.sha256).ok());
  EXPECT_NE(Decide({"-n", "alice"}).refusal.find("is not trusted"), std::string::npos);
}

TEST_F(CertificatesTest, ExpiredNotYetValidAndHostCertificatesAreRefused) {
  EXPECT_EQ(Decide({"-n", "alice", "-V", "20200101:20200201"}).refusal, "it has expired");
  EXPECT_EQ(Decide({"-n", "alice", "-V", "+52w:+53w"}).refusal, "it is not valid yet");
  EXPECT_EQ(Decide({"-h", "-n", "alice"}).refusal, "it is not a user certificate");
  EXPECT_EQ(Decide({"-n", "alice", "-V", "-5m:+5m"}).user, "alice");
}

TEST_F(CertificatesTest, TheKrlRevokesAndABrokenKrlRefusesEverything) {
  ASSERT_TRUE(MakeDirs(config_.dirs().Ssh(), 0755).ok());
  std::string spec = dir_ / "spec";
  testing::WriteFile(spec, "serial: 13\n");
  testing::RunOk({"ssh-keygen", "-q", "-k", "-s", ca_.private_path + ".pub", "-f", config_.dirs().RevokedKeys(), spec});
  EXPECT_NE(Decide({"-n", "alice", "-z", "13"}).refusal.find("it is revoked"), std::string::npos);
  EXPECT_EQ(Decide({"-n", "alice", "-z", "14"}).user, "alice");

  testing::WriteFile(config_.dirs().RevokedKeys(), "garbage");
  Result<Certificate> cert =
      ParseCertificate(*DecodeBase64(testing::SignUserKey(ca_, user_key_, "id", {"-n", "alice", "-z", "14"})));
  ASSERT_TRUE(cert.ok());
  Result<CertificateLogin> login = AuthorizeCertificate(
      config_, {*cert, ca_.sha256, Sha256(cert->plain_key), static_cast<uint64_t>(::time(nullptr))});
  ASSERT_FALSE(login.ok());
  EXPECT_NE(login.status().message().find("not a valid KRL"), std::string::npos) << login.status().message();
}

TEST_F(CertificatesTest, ControllerModeRefusesCertificates) {
  config_.mode = Mode::kController;
  EXPECT_NE(Decide({"-n", "alice"}).refusal.find("standalone-mode feature"), std::string::npos);
}

}  // namespace
}  // namespace pushgate
