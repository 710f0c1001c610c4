#include "session/pusher_command.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

PusherCommand Accepted(const std::string& text) {
  ParsedPusherCommand p = ParsePusherCommand(text, "git");
  EXPECT_TRUE(p.ok) << text << ": " << p.error;
  if (p.ok) {
    EXPECT_EQ(FormatPusherCommand(p.command), text) << "an accepted command is its own canonical spelling";
  }
  return p.command;
}

std::string Refused(const std::string& text) {
  ParsedPusherCommand p = ParsePusherCommand(text, "git");
  EXPECT_FALSE(p.ok) << text;
  return p.error;
}

TEST(PusherCommandTest, NoCommandIsAGreeting) {
  EXPECT_TRUE(ParsePusherCommand(std::nullopt, "git").ok);
  EXPECT_EQ(ParsePusherCommand(std::nullopt, "git").command.kind, PusherCommandKind::kHello);
  EXPECT_EQ(ParsePusherCommand(std::string(), "git").command.kind, PusherCommandKind::kHello);
}

TEST(PusherCommandTest, EachCommandAndItsArguments) {
  EXPECT_EQ(Accepted("info").kind, PusherCommandKind::kInfo);
  EXPECT_TRUE(Accepted("info --json").json);
  PusherCommand releases = Accepted("releases web");
  EXPECT_EQ(releases.kind, PusherCommandKind::kReleases);
  EXPECT_EQ(releases.app, "web");
  EXPECT_FALSE(Accepted("rollback web").version);
  PusherCommand rollback = Accepted("rollback my-app v12");
  EXPECT_EQ(rollback.kind, PusherCommandKind::kRollback);
  EXPECT_EQ(rollback.version, 12);
  EXPECT_EQ(Accepted("logs web v3").version, 3);
  EXPECT_EQ(Accepted("logs web").kind, PusherCommandKind::kLogs);
}

TEST(PusherCommandTest, UnknownCommandsGetTheList) {
  for (const char* text : {"ls", "bash", "cat /etc/passwd", "help", "INFO", "scp -t /tmp"}) {
    std::string error = Refused(text);
    EXPECT_NE(error.find("pushgate does not provide shell access; the commands are: info [--json], releases APP, "
                         "rollback APP [vN], logs APP [vN], and git push/fetch"),
              std::string::npos)
        << text << ": " << error;
  }
  EXPECT_EQ(Refused("frob x").rfind("unknown command 'frob'; ", 0), 0u);
  EXPECT_EQ(Refused("\x1b[31m x").find('\x1b'), std::string::npos) << "the echo is printable";
}

TEST(PusherCommandTest, ArgumentsAreExact) {
  EXPECT_EQ(Refused("releases"), "usage: ssh git@HOST releases APP");
  EXPECT_EQ(Refused("releases web v2"), "usage: ssh git@HOST releases APP");
  EXPECT_EQ(Refused("info --yaml"), "usage: ssh git@HOST info [--json]");
  EXPECT_EQ(Refused("rollback web v2 now"), "usage: ssh git@HOST rollback APP [vN]");
  for (const char* text : {"rollback web 2", "rollback web v0", "rollback web v01", "rollback web v-1",
                           "logs web v12345678901", "logs web vx"}) {
    EXPECT_NE(Refused(text).find("is not a release version (v1, v2, ...)"), std::string::npos) << text;
  }
  for (const char* text : {"releases ../x", "releases Web", "logs -web", "rollback 'web'", "releases web.git"}) {
    EXPECT_NE(Refused(text).find("is not a valid app name"), std::string::npos) << text;
  }
}

// One case per attack class from docs/security.md: nothing but single
// spaces between words, nothing outside printable ASCII, no options.
TEST(PusherCommandTest, InjectionAndOddSpacingAreRefused) {
  for (const char* text : {"info;id", "info && id", "info\nid", "info\tx", " info", "info ", "releases  web",
                           "releases web;id", "releases $(id)", "logs web v1 --output=/tmp/x", "info --json --json"}) {
    Refused(text);
  }
  Refused(std::string("releases web\0x", 14));
  Refused("releases " + std::string(600, 'a'));
}

}  // namespace
}  // namespace pushgate
