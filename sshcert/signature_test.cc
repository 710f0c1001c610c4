#include "sshcert/signature.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

using testing::MakeKey;
using testing::TempDir;
using testing::TestKey;

Certificate Parse(const std::string& base64) {
  Result<Certificate> cert = ParseCertificate(*DecodeBase64(base64));
  EXPECT_TRUE(cert.ok()) << cert.status().message();
  return cert.ok() ? *cert : Certificate();
}

TEST(CertificateSignatureTest, VerifiesEveryCaTypeSshKeygenSignsWith) {
  TempDir dir;
  TestKey user = MakeKey(dir.path(), "user");
  struct Ca {
    const char* type;
    int bits;
  };
  for (Ca ca_type : {Ca{"ed25519", 0}, Ca{"rsa", 2048}, Ca{"ecdsa", 256}, Ca{"ecdsa", 384}, Ca{"ecdsa", 521}}) {
    std::string name = std::string("ca-") + ca_type.type + std::to_string(ca_type.bits);
    TestKey ca = MakeKey(dir.path(), name, ca_type.type, ca_type.bits);
    Certificate cert = Parse(testing::SignUserKey(ca, user, "id", {"-n", "alice"}));
    Status verified = VerifyCertificateSignature(cert);
    EXPECT_TRUE(verified.ok()) << name << ": " << verified.message();

    Certificate tampered = cert;
    tampered.signed_data[tampered.signed_data.size() / 2] ^= 1;
    EXPECT_EQ(VerifyCertificateSignature(tampered).code(), Status::Code::kPermissionDenied) << name;
  }
}

TEST(CertificateSignatureTest, ACertificateSignedByAnotherCaDoesNotVerifyUnderThisOne) {
  TempDir dir;
  TestKey user = MakeKey(dir.path(), "user");
  TestKey ca = MakeKey(dir.path(), "ca");
  TestKey impostor = MakeKey(dir.path(), "impostor");
  Certificate cert = Parse(testing::SignUserKey(impostor, user, "id", {"-n", "alice"}));
  cert.signature_key = *DecodeBase64(ca.blob);
  EXPECT_FALSE(VerifyCertificateSignature(cert).ok());
}

TEST(CertificateSignatureTest, Sha1RsaSignaturesAreRefused) {
  TempDir dir;
  TestKey user = MakeKey(dir.path(), "user");
  TestKey ca = MakeKey(dir.path(), "ca", "rsa", 2048);
  Certificate cert = Parse(testing::SignUserKey(ca, user, "id", {"-t", "ssh-rsa", "-n", "alice"}));
  Status verified = VerifyCertificateSignature(cert);
  ASSERT_FALSE(verified.ok());
  EXPECT_NE(verified.message().find("rsa-sha2-512"), std::string::npos) << verified.message();
}

TEST(Sha256FingerprintTest, MatchesSshKeygen) {
  TempDir dir;
  TestKey key = MakeKey(dir.path(), "key");
  EXPECT_EQ(Sha256Fingerprint(*DecodeBase64(key.blob)), key.sha256);
  EXPECT_EQ(Sha256("").size(), 32u);
}

}  // namespace
}  // namespace pushgate
