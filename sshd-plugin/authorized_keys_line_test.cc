#include "sshd-plugin/authorized_keys_line.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

const AuthorizedKeysLineParts kGood = {
    "/usr/libexec/pushgate/pushgate-shell",
    "/etc/pushgate/pushgate.toml",
    "alice",
    "SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI",
    "ssh-ed25519",
    "AAAAC3NzaC1lZDI1NTE5AAAAIEKUSxW6sncsk8eTshb0JCRgFUTKcmKtWycPbj9ibjV6",
};

TEST(AuthorizedKeysLineTest, ExactFormat) {
  Result<std::string> line = FormatAuthorizedKeysLine(kGood);
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "command=\"/usr/libexec/pushgate/pushgate-shell --config /etc/pushgate/pushgate.toml --user alice "
            "--key SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI\",restrict ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIEKUSxW6sncsk8eTshb0JCRgFUTKcmKtWycPbj9ibjV6\n");
}

// Option injection: any part that could close the quote, add an option, add
// a line or a shell word is refused rather than escaped.
TEST(AuthorizedKeysLineTest, OptionInjectionThroughAnyPartIsRefused) {
  const std::vector<std::string> hostile = {
      "\"",     "\",command=\"/bin/sh", "\n",     std::string("\0", 1), " ",  "a b", "$(id)", "`id`",
      "a;b",    "\\",                   "'",      std::string(8192, 'a'), ",",   "=",
  };
  for (const std::string& bad : hostile) {
    for (int part = 0; part < 6; ++part) {
      AuthorizedKeysLineParts p = kGood;
      std::string value;
      switch (part) {
        case 0: value = std::string(p.shell_path) + bad; p.shell_path = value; break;
        case 1: value = std::string(p.config_path) + bad; p.config_path = value; break;
        case 2: value = std::string(p.user) + bad; p.user = value; break;
        case 3: value = std::string(p.fingerprint) + bad; p.fingerprint = value; break;
        case 4: value = std::string(p.key_type) + bad; p.key_type = value; break;
        case 5: value = std::string(p.key_blob) + bad; p.key_blob = value; break;
      }
      // A long run of 'a' is still a well-formed base64 blob (an RSA-16384
      // key is 2.8 KB); the blob's own limit is tested below.
      if (part == 5 && bad == std::string(8192, 'a')) continue;
      Result<std::string> line = FormatAuthorizedKeysLine(p);
      EXPECT_FALSE(line.ok()) << "part " << part << " accepted " << value;
    }
  }
}

constexpr char kCa[] = "SHA256:UPSXJz93Nq9OMT82lim0rcfuR2deBnsyLM41RkZW/Ao";

TEST(AuthorizedPrincipalsLineTest, ExactFormat) {
  Result<std::string> line = FormatAuthorizedPrincipalsLine(
      {kGood.shell_path, kGood.config_path, "alice", kGood.fingerprint, kCa, "alice@corp.example"});
  ASSERT_TRUE(line.ok()) << line.status().message();
  EXPECT_EQ(*line,
            "command=\"/usr/libexec/pushgate/pushgate-shell --config /etc/pushgate/pushgate.toml --user alice "
            "--key SHA256:L65etgu/QnGIEU4h2iJVRFbfdMhhSHce65NvqoEWUtI --ca " + std::string(kCa) +
                "\",restrict alice@corp.example\n");
}

// A principal comes from the certificate, which its holder had signed: it
// must not add an option, a second principal or a line.
TEST(AuthorizedPrincipalsLineTest, PrincipalInjectionIsRefused) {
  for (const char* bad : {"a b", "a,b", "\"", "a\nb", "-a", "", "a\tb", "command=\"x\""}) {
    AuthorizedPrincipalsLineParts p{kGood.shell_path, kGood.config_path, "alice", kGood.fingerprint, kCa, bad};
    EXPECT_FALSE(FormatAuthorizedPrincipalsLine(p).ok()) << bad;
  }
  AuthorizedPrincipalsLineParts user{kGood.shell_path, kGood.config_path, "alice\"", kGood.fingerprint, kCa, "alice"};
  EXPECT_FALSE(FormatAuthorizedPrincipalsLine(user).ok());
  AuthorizedPrincipalsLineParts ca{kGood.shell_path, kGood.config_path, "alice", kGood.fingerprint, "SHA256:x\" y", "a"};
  EXPECT_FALSE(FormatAuthorizedPrincipalsLine(ca).ok());
  ca.ca_fingerprint = "";
  EXPECT_FALSE(FormatAuthorizedPrincipalsLine(ca).ok());
}

TEST(AuthorizedKeysLineTest, OversizeBlobIsRefused) {
  AuthorizedKeysLineParts p = kGood;
  std::string huge(20000, 'A');
  p.key_blob = huge;
  EXPECT_FALSE(FormatAuthorizedKeysLine(p).ok());
}

TEST(AuthorizedKeysLineTest, RelativeConfigPathIsRefused) {
  AuthorizedKeysLineParts p = kGood;
  p.config_path = "pushgate.toml";
  EXPECT_FALSE(FormatAuthorizedKeysLine(p).ok());
}

}  // namespace
}  // namespace pushgate
