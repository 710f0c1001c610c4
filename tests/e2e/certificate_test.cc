// End-to-end: SSH user certificates through either front end (OpenSSH with
// TrustedUserCAKeys and pushgate-principals, or pushgate-sshd), made by
// ssh-keygen -s and offered by the real ssh client, which picks up
// KEY-cert.pub beside the private key. None of the certified keys is
// registered, so only the certificate can log in.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/e2e/gateway.h"
#include "util/fs.h"

namespace pushgate::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class CertificateTest : public SharedGatewayTest<CertificateTest> {
 public:
  static GatewayOptions Options() { return {}; }

 protected:
  void SetUp() override {
    SharedGatewayTest::SetUp();
    if (!ca_) {
      ca_ = new TestKey(MakeKey(keys_->path(), "user_ca"));
      gateway_->AdminOk({"ca", "add", ca_->private_path + ".pub"});
      gateway_->AdminOk({"user", "add", "dora"});
      gateway_->AdminOk({"app", "create", "cert-web", "--member", "dora"});
    }
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
    SharedGatewayTest::TearDownTestSuite();
  }

  // A fresh key with a certificate signed by `ca` (the trusted one by default).
  TestKey Certified(const std::string& name, const std::vector<std::string>& args, const TestKey* ca = nullptr) {
    TestKey key = MakeKey(keys_->path(), name);
    SignUserKey(ca ? *ca : *ca_, key, name + "@laptop", args);
    return key;
  }
  CapturedRun Info(const TestKey& key) { return gateway_->Ssh(key, {"127.0.0.1", "info"}); }
  void ExpectRefused(const TestKey& key, const std::string& why) {
    CapturedRun run = Info(key);
    EXPECT_EQ(run.status.code, 255) << why << ": " << run.output;
    EXPECT_TRUE(Contains(run.output, "Permission denied")) << why << ": " << run.output;
  }

  static inline TestKey* ca_ = nullptr;
  TempDir work_;
};

TEST_F(CertificateTest, AValidCertificatePushesAsThePrincipalsUser) {
  TestKey key = Certified("dora-ok", {"-n", "dora", "-V", "-5m:+1h"});
  CapturedRun info = Info(key);
  ASSERT_EQ(info.status.code, 0) << info.output;
  EXPECT_TRUE(Contains(info.output, "hello dora\nkey " + key.sha256 + "\n")) << info.output;

  std::string dir = work_ / "app";
  MakeRepoWithCommit(dir, {{"README", "certified\n"}});
  CapturedRun push = gateway_->Git(key, {"push", gateway_->Url("cert-web"), "main"}, dir);
  ASSERT_TRUE(push.status.success()) << push.output;
  EXPECT_TRUE(Contains(ReadFile(gateway_->data_dir() + "/pushgate.log"), "\"user\":\"dora\"")) << "logged as dora";
}

TEST_F(CertificateTest, AnExplicitPrincipalMappingLogsInAsItsUser) {
  gateway_->AdminOk({"user", "principal", "add", "dora", "dora@corp.example"});
  TestKey key = Certified("dora-corp", {"-n", "dora@corp.example"});
  CapturedRun info = Info(key);
  EXPECT_EQ(info.status.code, 0) << info.output;
  EXPECT_TRUE(Contains(info.output, "hello dora\n")) << info.output;
  gateway_->AdminOk({"user", "principal", "rm", "dora", "dora@corp.example"});
  ExpectRefused(key, "mapping removed");
}

TEST_F(CertificateTest, ExpiredNotYetValidAndWrongPrincipalCertificatesAreRefused) {
  ExpectRefused(Certified("dora-expired", {"-n", "dora", "-V", "20200101:20200102"}), "expired");
  ExpectRefused(Certified("dora-future", {"-n", "dora", "-V", "+52w:+53w"}), "not yet valid");
  ExpectRefused(Certified("dora-wrong", {"-n", "eve,root"}), "wrong principal");
  ExpectRefused(Certified("dora-host", {"-h", "-n", "dora"}), "host certificate");
  TestKey rogue_ca = MakeKey(keys_->path(), "rogue_ca");
  ExpectRefused(Certified("dora-rogue", {"-n", "dora"}, &rogue_ca), "untrusted CA");
}

TEST_F(CertificateTest, TheKrlRevokesCertificatesBySerial) {
  TestKey revoked = Certified("dora-revoked", {"-n", "dora", "-z", "666"});
  TestKey kept = Certified("dora-kept", {"-n", "dora", "-z", "667"});
  ASSERT_EQ(Info(revoked).status.code, 0);
  std::string spec = work_ / "krl.spec";
  std::string krl = gateway_->data_dir() + "/ssh/revoked_keys";
  WriteFile(spec, "serial: 666\n");
  RunOk({"ssh-keygen", "-q", "-k", "-s", ca_->private_path + ".pub", "-f", krl, spec});
  ASSERT_EQ(::chmod(krl.c_str(), 0644), 0);
  ExpectRefused(revoked, "revoked");
  EXPECT_EQ(Info(kept).status.code, 0);
  // A KRL that cannot be read as one refuses every certificate: fail closed.
  WriteFile(krl, "not a KRL", 0644);
  ExpectRefused(kept, "broken KRL");
  EXPECT_TRUE(Contains(ReadFile(gateway_->data_dir() + "/pushgate.log"), "not a valid KRL"));
  ASSERT_EQ(::unlink(krl.c_str()), 0);
  EXPECT_EQ(Info(kept).status.code, 0);
}

TEST_F(CertificateTest, SourceAddressIsEnforcedAndForceCommandRefused) {
  ExpectRefused(Certified("dora-elsewhere", {"-n", "dora", "-O", "source-address=10.0.0.0/8"}), "source-address");
  EXPECT_EQ(Info(Certified("dora-here", {"-n", "dora", "-O", "source-address=10.0.0.0/8,127.0.0.1/32"})).status.code,
            0);
  ExpectRefused(Certified("dora-forced", {"-n", "dora", "-O", "force-command=/bin/sh"}), "force-command");
}

TEST_F(CertificateTest, RemovingTheCaStopsItsCertificates) {
  TestKey other_ca = MakeKey(keys_->path(), "other_ca");
  gateway_->AdminOk({"ca", "add", other_ca.private_path + ".pub"});
  TestKey key = Certified("dora-other", {"-n", "dora"}, &other_ca);
  ASSERT_EQ(Info(key).status.code, 0);
  gateway_->AdminOk({"ca", "rm", other_ca.sha256});
  ExpectRefused(key, "CA removed");
}

}  // namespace
}  // namespace pushgate::testing
