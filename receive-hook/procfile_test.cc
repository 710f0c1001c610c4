#include "receive-hook/procfile.h"

#include <gtest/gtest.h>

namespace pushgate {
namespace {

TEST(ProcfileTest, ReadsTypesAndCommandsAsTheStockBuilderWould) {
  Result<std::map<std::string, std::string>> p =
      ParseProcfile("# processes\nweb: bundle exec puma -C config/puma.rb\r\n\nworker:   sidekiq -q default\n"
                    "release-task: \"rake db:migrate\"\nclock: 'bin/clock --every 5m'");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, (std::map<std::string, std::string>{{"web", "bundle exec puma -C config/puma.rb"},
                                                     {"worker", "sidekiq -q default"},
                                                     {"release-task", "rake db:migrate"},
                                                     {"clock", "bin/clock --every 5m"}}));
  EXPECT_TRUE(ParseProcfile("")->empty());
  EXPECT_EQ(ParseProcfile("web: ./run --port=$PORT: x")->at("web"), "./run --port=$PORT: x");
}

TEST(ProcfileTest, RefusalsNameTheLineAndTheRule) {
  EXPECT_EQ(ParseProcfile("web: ok\nnot a process\n").status().message(),
            "Procfile line 2: expected \"type: command\"");
  EXPECT_EQ(ParseProcfile("Web: x").status().message(),
            "Procfile line 1: the process type \"Web\" must be lowercase letters and digits, with single dashes "
            "between them");
  for (const char* bad : {"-web: x", "web-: x", "we--b: x", "w_b: x", ": x", "w b: x"}) {
    EXPECT_FALSE(ParseProcfile(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseProcfile("web:\n").status().message(), "Procfile line 1: the web process has no command");
  EXPECT_EQ(ParseProcfile("web: a\nweb: b").status().message(), "Procfile line 2: the web process is given twice");
  EXPECT_EQ(ParseProcfile("web: a\x1b[2J").status().message(), "Procfile line 1: contains a control character");
  EXPECT_FALSE(ParseProcfile(std::string(kMaxProcfileBytes + 1, '#')).ok());
}

}  // namespace
}  // namespace pushgate
