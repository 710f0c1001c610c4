#include "sshkey/sshkey.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include "tests/testing/testing.h"
#include "util/rsa_bits.h"
#include "util/fs.h"

namespace pushgate {
namespace {

using testing::MakeKey;
using testing::TempDir;
using testing::TestKey;

class SshKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    keys_ = new std::vector<TestKey>{
        MakeKey(dir_->path(), "ed25519", "ed25519", 0, "alice@laptop"),
        MakeKey(dir_->path(), "rsa2048", "rsa", 2048, "rsa key"),
        MakeKey(dir_->path(), "ecdsa256", "ecdsa", 256),
        MakeKey(dir_->path(), "ecdsa384", "ecdsa", 384),
        MakeKey(dir_->path(), "ecdsa521", "ecdsa", 521),
    };
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete dir_;
  }
  static const TestKey& Ed25519() { return (*keys_)[0]; }
  static const TestKey& Rsa() { return (*keys_)[1]; }

  static TempDir* dir_;
  static std::vector<TestKey>* keys_;
};
TempDir* SshKeyTest::dir_;
std::vector<TestKey>* SshKeyTest::keys_;

TEST_F(SshKeyTest, FingerprintsMatchSshKeygen) {
  for (const TestKey& k : *keys_) {
    Result<PublicKey> parsed = ParsePublicKeyLine(k.public_line);
    ASSERT_TRUE(parsed.ok()) << k.public_line << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->type, k.type);
    EXPECT_EQ(parsed->blob, k.blob);
    EXPECT_EQ(parsed->sha256_fingerprint, k.sha256) << k.type;
    Result<std::string> md5 = Md5Fingerprint(*parsed);
    ASSERT_TRUE(md5.ok()) << md5.status().ToString();
    EXPECT_EQ(*md5, k.md5) << k.type;
  }
}

// The size read from the blob (what the lean keys helper sees) agrees with
// ssh-keygen's, and only RSA keys below the minimum are refused.
TEST_F(SshKeyTest, RsaKeysBelowTheMinimumAreRefused) {
  for (int bits : {1024, 2048, 3072}) {
    testing::TestKey key = testing::MakeKey(dir_->path(), "strength-rsa" + std::to_string(bits), "rsa", bits);
    Result<PublicKey> parsed = ParsePublicKeyLine(key.public_line);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->rsa_bits, bits);
    EXPECT_EQ(RsaModulusBits(key.blob), bits);
    EXPECT_EQ(CheckKeyStrength(*parsed, 2048).ok(), bits >= 2048) << bits;
  }
  testing::TestKey weak = testing::MakeKey(dir_->path(), "strength-weak", "rsa", 1024);
  Status refused = CheckKeyStrength(*ParsePublicKeyLine(weak.public_line), 2048);
  EXPECT_EQ(refused.message(),
            "this RSA key has 1024 bits; RSA keys need at least 2048 (keys.min_rsa_bits): make a new key with "
            "ssh-keygen -t ed25519");
  testing::TestKey ed = testing::MakeKey(dir_->path(), "strength-ed", "ed25519");
  EXPECT_EQ(ParsePublicKeyLine(ed.public_line)->rsa_bits, 0);
  EXPECT_EQ(RsaModulusBits(ed.blob), 0);
  EXPECT_TRUE(CheckKeyStrength(*ParsePublicKeyLine(ed.public_line), 16384).ok());
  for (const char* junk : {"", "AAAA", "!!!!", "AAAAB3NzaC1yc2E=", "AAAAB3NzaC1yc2EAAAADAQAB"}) {
    EXPECT_EQ(RsaModulusBits(junk), 0) << junk;
  }
}

TEST_F(SshKeyTest, KeepsCommentAndToleratesSpacingAndCrlf) {
  Result<PublicKey> k = ParsePublicKeyLine("  " + Ed25519().type + "\t" + Ed25519().blob + "   my laptop key  \r");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->comment, "my laptop key");
  Result<PublicKey> bare = ParsePublicKeyLine(Ed25519().type + " " + Ed25519().blob);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->comment, "");
}

TEST_F(SshKeyTest, RefusesAuthorizedKeysOptions) {
  for (std::string prefix : {"command=\"/bin/sh\" ", "restrict ", "no-pty,from=\"1.2.3.4\" ", "environment=\"A=1\" "}) {
    Result<PublicKey> k = ParsePublicKeyLine(prefix + Ed25519().public_line);
    ASSERT_FALSE(k.ok()) << prefix;
    EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_NE(ParsePublicKeyLine("command=\"x\" " + Ed25519().public_line).status().message().find("options"),
            std::string::npos);
}

TEST_F(SshKeyTest, RefusesTypeBlobMismatch) {
  Result<PublicKey> k = ParsePublicKeyLine("ssh-rsa " + Ed25519().blob);
  EXPECT_FALSE(k.ok());
  k = ParsePublicKeyLine("ecdsa-sha2-nistp384 " + (*keys_)[2].blob);  // a P-256 blob
  EXPECT_FALSE(k.ok());
}

TEST_F(SshKeyTest, RefusesNonCanonicalOrDamagedBlobs) {
  std::string blob = Ed25519().blob;
  // Extra bytes appended to the wire format (re-encoded as valid base64).
  std::string extended = blob.substr(0, blob.size() - 4) + "AAAAAAAA";
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519 " + extended).ok());
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519 " + blob.substr(0, blob.size() - 4)).ok());
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519 AAAA").ok());
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519 not*base64").ok());
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519").ok());
  EXPECT_FALSE(ParsePublicKeyLine("").ok());
}

TEST_F(SshKeyTest, RefusesControlCharactersAnywhere) {
  for (std::string bad : {std::string("\n"), std::string("\0", 1), std::string("\x1b"), std::string("\x7f")}) {
    EXPECT_FALSE(ParsePublicKeyLine(Ed25519().public_line + bad).ok());
    EXPECT_FALSE(ParsePublicKeyLine(Ed25519().type + " " + Ed25519().blob + " a" + bad + "b").ok());
  }
}

TEST_F(SshKeyTest, RefusesLongCommentsAndUnsupportedTypes) {
  EXPECT_FALSE(ParsePublicKeyLine(Ed25519().public_line + std::string(1100, 'c')).ok());
  EXPECT_TRUE(ParsePublicKeyLine(Ed25519().type + " " + Ed25519().blob + " " + std::string(1024, 'c')).ok());
  Result<PublicKey> dss = ParsePublicKeyLine("ssh-dss AAAAB3NzaC1kc3MAAACBAP== x");
  ASSERT_FALSE(dss.ok());
  EXPECT_NE(dss.status().message().find("unsupported key type"), std::string::npos);
  EXPECT_FALSE(ParsePublicKeyLine("ssh-ed25519-cert-v01@openssh.com " + Ed25519().blob).ok());
}

TEST_F(SshKeyTest, APrivateKeyOrAnSsh2KeyIsNamedForWhatItIs) {
  Result<std::string> private_key = ReadSmallFile(Ed25519().private_path, 64 * 1024);
  ASSERT_TRUE(private_key.ok());
  std::string first_line = private_key->substr(0, private_key->find('\n'));
  Result<PublicKey> parsed = ParsePublicKeyLine(first_line);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("this is a private key; give the .pub file"), std::string::npos)
      << parsed.status().message();
  EXPECT_NE(ParsePublicKeyLine("-----BEGIN RSA PRIVATE KEY-----").status().message().find("private key"),
            std::string::npos);
  EXPECT_NE(ParsePublicKeyLine("---- BEGIN SSH2 PUBLIC KEY ----").status().message().find("ssh-keygen -i"),
            std::string::npos);
}

TEST_F(SshKeyTest, ReadsListsSkippingCommentsAndNamingBadLines) {
  TempDir dir;
  std::string text = "# my keys\n\n" + Ed25519().public_line + "\r\n   \n" + Rsa().public_line + "\n";
  testing::WriteFile(dir / "keys", text);
  UniqueFd fd(::open((dir / "keys").c_str(), O_RDONLY));
  LineReader lines(fd.get());
  std::vector<std::string> fps;
  Result<size_t> n = ReadPublicKeyList(lines, [&](PublicKey&& k) {
    fps.push_back(k.sha256_fingerprint);
    return Status::OK();
  });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(fps, (std::vector<std::string>{Ed25519().sha256, Rsa().sha256}));

  testing::WriteFile(dir / "bad", Ed25519().public_line + "\nssh-ed25519 AAAA\n");
  UniqueFd bad(::open((dir / "bad").c_str(), O_RDONLY));
  LineReader bad_lines(bad.get());
  Result<size_t> err = ReadPublicKeyList(bad_lines, [](PublicKey&&) { return Status::OK(); });
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message().rfind("line 2: ", 0), 0u) << err.status().message();
}

}  // namespace
}  // namespace pushgate
