// fake_controller_server: the fake controller as a process, for tests whose
// pushgate cannot reach a controller inside the test binary (the container
// test runs pushgate in containers).
//
//   fake_controller_server --bind ADDR --token TOKEN [--key USER=FILE]...
//                          [--app APP=USER]... [--build-seconds N]
//
// Prints "port N" once it listens, then serves until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/fake_controller/fake_controller.h"
#include "util/fs.h"

namespace {

using pushgate::testing::FakeController;

// "NAME=VALUE" split at the first '='; false if there is none.
bool SplitPair(const std::string& text, std::string* name, std::string* value) {
  size_t at = text.find('=');
  if (at == std::string::npos || at == 0 || at + 1 == text.size()) return false;
  *name = text.substr(0, at);
  *value = text.substr(at + 1);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("the fake platform controller as a process");
  FakeController::Options options;
  std::vector<std::string> keys, apps;
  int build_seconds = 0;
  app.add_option("--bind", options.bind_address, "the address to listen on");
  app.add_option("--token", options.token, "the builder token it expects")->required();
  app.add_option("--key", keys, "USER=FILE: USER's public key, from a .pub file");
  app.add_option("--app", apps, "APP=USER: an app with USER as its collaborator");
  app.add_option("--build-seconds", build_seconds, "how long each build runs before it succeeds");
  CLI11_PARSE(app, argc, argv);

  // Blocked before the server's threads start, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeController controller(options);
  if (controller.port() <= 0) {
    std::fprintf(stderr, "fake_controller_server: cannot listen on %s\n", options.bind_address.c_str());
    return 1;
  }
  for (const std::string& key : keys) {
    std::string user, path;
    if (!SplitPair(key, &user, &path)) {
      std::fprintf(stderr, "fake_controller_server: --key %s: give USER=FILE\n", key.c_str());
      return 2;
    }
    pushgate::Result<std::string> line = pushgate::ReadSmallFile(path);
    if (!line.ok() || controller.AddKey(user, line->substr(0, line->find('\n'))).empty()) {
      std::fprintf(stderr, "fake_controller_server: %s: not a readable public key file\n", path.c_str());
      return 1;
    }
  }
  for (const std::string& entry : apps) {
    std::string name, user;
    if (!SplitPair(entry, &name, &user)) {
      std::fprintf(stderr, "fake_controller_server: --app %s: give APP=USER\n", entry.c_str());
      return 2;
    }
    controller.AddApp(name, {user});
  }
  if (build_seconds > 0) {
    FakeController::BuildScript script;
    script.log = {{pushgate::Duration(0), "-----> Building\n"},
                  {std::chrono::seconds(build_seconds), "-----> Built\n"}};
    controller.SetBuildScript(script);
  }
  std::printf("port %d\n", controller.port());
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  return 0;
}
