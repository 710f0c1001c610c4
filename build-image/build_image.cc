#include "build-image/build_image.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "source-archive/source_archive.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/json_writer.h"
#include "util/names.h"
#include "util/process.h"

namespace pushgate {
namespace {

// Removes the work directory however the build ends.
struct WorkDir {
  std::string path;
  ~WorkDir() {
    if (!path.empty()) (void)RemoveTree(path);
  }
};

Result<std::string> FindBuilder() {
  for (const char* name : {"buildah", "podman"}) {
    Result<std::string> found = FindSystemProgram(name);
    if (found.ok()) return found;
  }
  return Status::NotFound("neither buildah nor podman is installed on the gateway (apt-get install buildah)");
}

// Runs the builder with this process's stdout and stderr: the pusher sees
// its output as it is written.
Status Run(const std::string& builder, std::vector<std::string> args, const std::string& what) {
  SpawnSpec spec;
  spec.path = builder;
  spec.argv = {builder};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  // HOME holds the builder's rootless storage and its configuration
  // ($HOME/.config/containers); nothing else of the environment is needed.
  const char* home = ::getenv("HOME");
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + std::string(home != nullptr ? home : "/"),
              "BUILDAH_ISOLATION=chroot", "LANG=C.UTF-8"};
  spec.stdout_fd = STDOUT_FILENO;
  spec.stderr_fd = STDERR_FILENO;
  // The hook stops a build by signalling this process; the builder goes too.
  spec.killed_with_parent = true;
  PG_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec));
  PG_ASSIGN_OR_RETURN(ExitStatus exit, WaitForExit(pid));
  if (!exit.success()) return Status::Unavailable(what + " failed (" + exit.Describe() + ")");
  return Status::OK();
}

}  // namespace

std::string ImageTag(const std::string& registry, const std::string& app, const std::string& sha) {
  return registry + "/" + app + ":git-" + sha.substr(0, 8);
}

Status BuildAndPushImage(const ImageBuild& build) {
  if (!IsValidAppName(build.app) || build.sha.size() != 40) {
    return Status::InvalidArgument("PUSHGATE_APP and PUSHGATE_SHA must be set (this runs as pushgate's build command)");
  }
  if (build.registry.empty()) {
    return Status::InvalidArgument("build.registry is not set: pushgate-build-image pushes images there");
  }
  if (build.result_path.empty()) {
    return Status::InvalidArgument("PUSHGATE_BUILD_RESULT is not set: pushgate-build-image runs with "
                                   "build.driver = \"workflow\"");
  }
  std::string builder = build.builder;
  if (builder.empty()) {
    PG_ASSIGN_OR_RETURN(builder, FindBuilder());
  }
  PG_RETURN_IF_ERROR(MakeDirs(build.work_parent, 0750));
  std::string templ = build.work_parent + "/" + build.app + "-image-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp " + templ);
  WorkDir work{templ};
  std::string context = work.path + "/source";
  if (::mkdir(context.c_str(), 0755) != 0) return Status::FromErrno(errno, "mkdir " + context);
  PG_RETURN_IF_ERROR(ExtractSourceArchive(build.source, context).Annotate("unpack the source"));
  if (!PathExists(context + "/Dockerfile")) {
    return Status::InvalidArgument(build.app + " has no Dockerfile: pushgate-build-image builds Dockerfile apps only; "
                                   "a buildpack app needs a buildpack builder as build.command");
  }
  std::string tag = ImageTag(build.registry, build.app, build.sha);
  std::string name = builder.substr(builder.rfind('/') + 1);
  bool podman = name == "podman";
  std::printf("-----> Building image %s\n", tag.c_str());
  std::fflush(stdout);
  std::vector<std::string> bud = podman ? std::vector<std::string>{"build"} : std::vector<std::string>{"bud"};
  for (const std::string& arg : {std::string("--isolation=chroot"), std::string("--layers"), std::string("-f"),
                                 context + "/Dockerfile", std::string("-t"), tag, context}) {
    bud.push_back(arg);
  }
  PG_RETURN_IF_ERROR(Run(builder, bud, "the image build"));
  std::printf("-----> Pushing %s\n", tag.c_str());
  std::fflush(stdout);
  PG_RETURN_IF_ERROR(Run(builder, {"push", tag, "docker://" + tag}, "pushing the image"));

  std::string result = JsonObject().Add("image", tag).Finish();
  UniqueFd out(::open(build.result_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out.valid()) return Status::FromErrno(errno, "write " + build.result_path);
  return WriteAll(out.get(), result);
}

}  // namespace pushgate
