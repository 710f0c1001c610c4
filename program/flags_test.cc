#include "program/flags.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "util/fd.h"
#include "util/fs.h"

namespace pushgate {
namespace {

// Runs ParseFlags on `words` (after the program name) with stdout and
// stderr captured.
struct Parsed {
  std::optional<int> exit;
  std::string out, err;
  std::string config = "/etc/pushgate/pushgate.toml", user, key, ca;
};

std::string Drain(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  return text;
}

Parsed Parse(std::vector<const char*> words) {
  Parsed p;
  const Flag flags[] = {
      {"--config", "FILE", "configuration file", &p.config},
      {"--user", "USER", "platform user the key belongs to", &p.user, true},
      {"--key", "FINGERPRINT", "SHA256 fingerprint of the authenticated key", &p.key, true},
      {"--ca", "FINGERPRINT", "SHA256 fingerprint of the CA", &p.ca},
  };
  words.insert(words.begin(), "pushgate-shell");
  int out[2], err[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  UniqueFd saved_out(::dup(STDOUT_FILENO)), saved_err(::dup(STDERR_FILENO));
  ::dup2(out[1], STDOUT_FILENO);
  ::dup2(err[1], STDERR_FILENO);
  ::close(out[1]);
  ::close(err[1]);
  p.exit = ParseFlags("pushgate-shell", "pushgate forced command", flags, static_cast<int>(words.size()), words.data());
  ::dup2(saved_out.get(), STDOUT_FILENO);
  ::dup2(saved_err.get(), STDERR_FILENO);
  p.out = Drain(out[0]);
  p.err = Drain(err[0]);
  ::close(out[0]);
  ::close(err[0]);
  return p;
}

TEST(FlagsTest, ReadsBothSpellingsAndKeepsDefaults) {
  Parsed p = Parse({"--user", "alice", "--key=SHA256:abc", "--ca", ""});
  EXPECT_EQ(p.exit, std::nullopt) << p.err;
  EXPECT_EQ(p.user, "alice");
  EXPECT_EQ(p.key, "SHA256:abc");
  EXPECT_EQ(p.ca, "");
  EXPECT_EQ(p.config, "/etc/pushgate/pushgate.toml");
  EXPECT_EQ(p.err, "");

  p = Parse({"--config=/srv/p.toml", "--key", "k", "--user", "bob"});
  EXPECT_EQ(p.exit, std::nullopt) << p.err;
  EXPECT_EQ(p.config, "/srv/p.toml");
  EXPECT_EQ(p.user, "bob");
  // Only the = form can carry a value that looks like an option.
  p = Parse({"--user=--odd", "--key", "k"});
  EXPECT_EQ(p.exit, std::nullopt) << p.err;
  EXPECT_EQ(p.user, "--odd");
}

TEST(FlagsTest, UsageErrorsNameWhatIsWrongAndExit2) {
  struct Case {
    std::vector<const char*> words;
    std::string message;
  } cases[] = {
      {{"--user", "a"}, "--key is required"},
      {{"--user", "a", "--key", "k", "--bogus", "x"}, "unknown option --bogus"},
      {{"--user", "a", "--key", "k", "--version"}, "unknown option --version"},
      {{"--user", "a", "--key"}, "--key needs a value"},
      {{"--user", "--key", "k"}, "--user needs a value"},
      {{"--user", "a", "--user", "b", "--key", "k"}, "--user is given twice"},
      {{"--user", "a", "--key", "k", "extra"}, "too many arguments: extra"},
      {{"-u", "a"}, "too many arguments: -u"},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.words);
    EXPECT_EQ(p.exit, 2) << c.message;
    EXPECT_EQ(p.err, "pushgate-shell: " + c.message + "\nTry 'pushgate-shell --help'.\n");
    EXPECT_EQ(p.out, "");
  }
}

TEST(FlagsTest, HelpListsEveryOptionOnStdoutAndExits0) {
  for (const char* help : {"--help", "-h"}) {
    Parsed p = Parse({"--user", "a", help});
    EXPECT_EQ(p.exit, 0);
    EXPECT_EQ(p.err, "");
    EXPECT_TRUE(p.out.starts_with("pushgate forced command\nUsage: pushgate-shell [OPTIONS]\n")) << p.out;
    EXPECT_NE(p.out.find("--config FILE"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("(default: /etc/pushgate/pushgate.toml)"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("--user USER"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("platform user the key belongs to (required)"), std::string::npos) << p.out;
    EXPECT_NE(p.out.find("--ca FINGERPRINT"), std::string::npos) << p.out;
  }
}

}  // namespace
}  // namespace pushgate
