#include "sshcert/sshcert.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "sshcert/signature.h"
#include "tests/testing/testing.h"
#include "util/ssh_wire.h"

namespace pushgate {
namespace {

using testing::MakeKey;
using testing::SignUserKey;
using testing::TempDir;
using testing::TestKey;

class SshCertTest : public ::testing::Test {
 protected:
  SshCertTest() : ca_(MakeKey(dir_.path(), "ca")), user_(MakeKey(dir_.path(), "user")) {}

  Certificate Sign(const std::string& key_id, const std::vector<std::string>& args) {
    return Parse(SignUserKey(ca_, user_, key_id, args));
  }
  static Certificate Parse(const std::string& base64) {
    Result<Certificate> cert = ParseCertificate(*DecodeBase64(base64));
    EXPECT_TRUE(cert.ok()) << cert.status().message();
    return cert.ok() ? *cert : Certificate();
  }
  // A KRL made by ssh-keygen -k from a specification file.
  RevocationList Krl(const std::string& spec, const std::vector<std::string>& args = {}) {
    std::string spec_path = dir_ / "krl.spec", krl_path = dir_ / "krl";
    testing::WriteFile(spec_path, spec);
    std::vector<std::string> argv = {"ssh-keygen", "-q", "-k", "-f", krl_path};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(spec_path);
    testing::RunOk(argv);
    Result<RevocationList> krl = RevocationList::Parse(testing::ReadFile(krl_path));
    EXPECT_TRUE(krl.ok()) << krl.status().message();
    return krl.ok() ? *krl : RevocationList();
  }

  TempDir dir_;
  TestKey ca_;
  TestKey user_;
};

TEST_F(SshCertTest, ReadsEveryFieldSshKeygenWrote) {
  Certificate cert = Sign("alice-laptop", {"-n", "alice,ops", "-z", "42", "-V", "20200101:20990101",
                                           "-O", "source-address=10.0.0.0/8", "-O", "force-command=/bin/true"});
  EXPECT_EQ(cert.type, "ssh-ed25519-cert-v01@openssh.com");
  EXPECT_EQ(cert.plain_key, *DecodeBase64(user_.blob));
  EXPECT_EQ(cert.serial, 42u);
  EXPECT_EQ(cert.cert_type, Certificate::kUserType);
  EXPECT_EQ(cert.key_id, "alice-laptop");
  EXPECT_EQ(cert.principals, (std::vector<std::string>{"alice", "ops"}));
  EXPECT_EQ(cert.valid_after, 1577836800u);
  EXPECT_EQ(cert.valid_before, 4070908800u);
  EXPECT_EQ(cert.signature_key, *DecodeBase64(ca_.blob));
  ASSERT_NE(FindCriticalOption(cert, "source-address"), nullptr);
  EXPECT_EQ(*FindCriticalOption(cert, "source-address"), "10.0.0.0/8");
  EXPECT_EQ(*FindCriticalOption(cert, "force-command"), "/bin/true");
  EXPECT_EQ(FindCriticalOption(cert, "verify-required"), nullptr);
  EXPECT_NE(std::find(cert.extensions.begin(), cert.extensions.end(), "permit-pty"), cert.extensions.end());
  EXPECT_EQ(CertificateRefusal(cert, 1800000000), "");
}

TEST_F(SshCertTest, ReadsRsaAndEcdsaCertificates) {
  for (const char* type : {"rsa", "ecdsa"}) {
    TestKey key = MakeKey(dir_.path(), std::string("user-") + type, type);
    Certificate cert = Parse(SignUserKey(ca_, key, "id", {"-n", "alice"}));
    EXPECT_EQ(cert.plain_key, *DecodeBase64(key.blob)) << type;
    EXPECT_EQ(cert.type, key.type + "-cert-v01@openssh.com");
  }
}

TEST_F(SshCertTest, ValidityWindowAndCertificateTypeDecideRefusal) {
  Certificate cert = Sign("id", {"-n", "alice", "-V", "20300101:20300201"});
  EXPECT_EQ(CertificateRefusal(cert, 1800000000), "it is not valid yet");
  EXPECT_EQ(CertificateRefusal(cert, 2700000000u), "it has expired");
  EXPECT_EQ(CertificateRefusal(cert, cert.valid_after), "");
  EXPECT_EQ(CertificateRefusal(cert, cert.valid_before), "it has expired");
  Certificate forever = Sign("id", {"-n", "alice"});
  EXPECT_EQ(forever.valid_before, UINT64_MAX);
  EXPECT_EQ(CertificateRefusal(forever, 4000000000), "");
  Certificate host = Sign("id", {"-h", "-n", "git.example.com"});
  EXPECT_EQ(CertificateRefusal(host, 1800000000), "it is not a user certificate");
}

TEST_F(SshCertTest, AnUnknownCriticalOptionRefusesTheCertificate) {
  Certificate cert = Sign("id", {"-n", "alice", "-O", "verify-required"});
  EXPECT_EQ(CertificateRefusal(cert, 1800000000),
            "it carries the critical option verify-required, which pushgate does not support");
}

TEST_F(SshCertTest, MalformedBlobsAreRefused) {
  std::string blob = *DecodeBase64(SignUserKey(ca_, user_, "id", {"-n", "alice"}));
  ASSERT_TRUE(ParseCertificate(blob).ok());
  for (size_t cut : {size_t{0}, size_t{10}, blob.size() / 2, blob.size() - 1}) {
    EXPECT_FALSE(ParseCertificate(blob.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(ParseCertificate(blob + "x").ok());
  // A plain key is not a certificate.
  Result<Certificate> plain = ParseCertificate(*DecodeBase64(user_.blob));
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("is not accepted"), std::string::npos) << plain.status().message();
}

TEST(SshCertTypeTest, RecognisesCertificateTypeNames) {
  EXPECT_TRUE(IsCertificateType("ssh-ed25519-cert-v01@openssh.com"));
  EXPECT_TRUE(IsCertificateType("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com"));
  EXPECT_FALSE(IsCertificateType("ssh-ed25519"));
  EXPECT_FALSE(IsCertificateType("-cert-v01@openssh.com"));
}

TEST_F(SshCertTest, KrlRevokesBySerialRangeAndKeyIdOfItsCa) {
  std::string ca_pub = ca_.private_path + ".pub";
  RevocationList krl = Krl("serial: 7\nserial: 100-200\nid: stolen-laptop\n", {"-s", ca_pub});
  std::string digest = Sha256(*DecodeBase64(user_.blob));
  EXPECT_TRUE(krl.Revokes(Sign("a", {"-n", "alice", "-z", "7"}), digest));
  EXPECT_TRUE(krl.Revokes(Sign("a", {"-n", "alice", "-z", "150"}), digest));
  EXPECT_TRUE(krl.Revokes(Sign("stolen-laptop", {"-n", "alice", "-z", "8"}), digest));
  EXPECT_FALSE(krl.Revokes(Sign("a", {"-n", "alice", "-z", "8"}), digest));
  EXPECT_FALSE(krl.Revokes(Sign("a", {"-n", "alice", "-z", "201"}), digest));
  // The same serial from another CA is not revoked.
  TestKey other_ca = MakeKey(dir_.path(), "other-ca");
  EXPECT_FALSE(krl.Revokes(Parse(SignUserKey(other_ca, user_, "a", {"-n", "alice", "-z", "7"})), digest));
}

TEST_F(SshCertTest, KrlBitmapsAreReadBitByBit) {
  // Many scattered serials make ssh-keygen choose its bitmap encoding.
  std::string spec;
  for (int serial = 1000; serial < 1400; serial += 3) spec += "serial: " + std::to_string(serial) + "\n";
  RevocationList krl = Krl(spec, {"-s", ca_.private_path + ".pub"});
  std::string digest = Sha256(*DecodeBase64(user_.blob));
  for (int serial : {1000, 1003, 1201, 1399}) {
    EXPECT_TRUE(krl.Revokes(Sign("a", {"-n", "alice", "-z", std::to_string(serial)}), digest)) << serial;
  }
  for (int serial : {999, 1001, 1002, 1400, 5}) {
    EXPECT_FALSE(krl.Revokes(Sign("a", {"-n", "alice", "-z", std::to_string(serial)}), digest)) << serial;
  }
}

TEST_F(SshCertTest, KrlRevokesTheCertifiedKeyItselfByBlobOrSha256) {
  Certificate cert = Sign("a", {"-n", "alice", "-z", "3"});
  std::string digest = Sha256(cert.plain_key);
  EXPECT_TRUE(Krl(user_.public_line + "\n").Revokes(cert, digest));
  EXPECT_TRUE(Krl("sha256: " + user_.public_line + "\n").Revokes(cert, digest));
  EXPECT_TRUE(Krl("hash: " + user_.sha256 + "\n").Revokes(cert, digest));
  TestKey other = MakeKey(dir_.path(), "other");
  EXPECT_FALSE(Krl(other.public_line + "\n").Revokes(cert, digest));
  // Revoking the certificate file revokes it by its CA and serial.
  EXPECT_TRUE(Krl(testing::ReadFile(user_.private_path + "-cert.pub")).Revokes(cert, digest));
}

TEST_F(SshCertTest, KrlWithSha1FingerprintsFailsClosed) {
  std::string spec_path = dir_ / "spec", krl_path = dir_ / "krl";
  testing::WriteFile(spec_path, "sha1: " + user_.public_line + "\n");
  testing::RunOk({"ssh-keygen", "-q", "-k", "-f", krl_path, spec_path});
  Result<RevocationList> krl = RevocationList::Parse(testing::ReadFile(krl_path));
  ASSERT_FALSE(krl.ok());
  EXPECT_NE(krl.status().message().find("SHA1"), std::string::npos) << krl.status().message();
}

TEST(RevocationListTest, RefusesWhatIsNotAKrl) {
  EXPECT_FALSE(RevocationList::Parse("").ok());
  EXPECT_FALSE(RevocationList::Parse("SSHKRL\n").ok());
  EXPECT_FALSE(RevocationList::Parse(std::string("SSHKRL\n\0\0\0\0\x02", 12)).ok());
  std::string header = std::string("SSHKRL\n\0", 8) + std::string("\0\0\0\x01", 4) + std::string(24, '\0') +
                       std::string(8, '\0');
  Result<RevocationList> empty = RevocationList::Parse(header);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_FALSE(RevocationList::Parse(header + "\x09" + std::string("\0\0\0\0", 4)).ok());  // unknown section
  EXPECT_FALSE(RevocationList::Parse(header + "\x01").ok());  // truncated
}

}  // namespace
}  // namespace pushgate
