// pushgate-build-image: the image build command for build.driver =
// "workflow". It turns the pushed source into a container image with
// buildah (or podman), pushes it to build.registry as APP:git-SHORTSHA, and
// names it in $PUSHGATE_BUILD_RESULT for the hook to release on the
// controller. Dockerfile apps only: a tree without a Dockerfile fails the
// build with a message saying so (buildpack apps need a buildpack builder).
//
// It runs as git_user, as every build does, with the hook's environment.
// The source is unpacked with pushgate's own extraction (no path leaves
// the work directory); buildah runs the Dockerfile with chroot isolation.
#ifndef PUSHGATE_BUILD_IMAGE_BUILD_IMAGE_H_
#define PUSHGATE_BUILD_IMAGE_BUILD_IMAGE_H_

#include <string>

#include "util/status.h"

namespace pushgate {

struct ImageBuild {
  std::string app;           // PUSHGATE_APP
  std::string sha;           // PUSHGATE_SHA, 40 hex digits
  std::string source;        // PUSHGATE_SOURCE, the tar.gz
  std::string result_path;   // PUSHGATE_BUILD_RESULT
  std::string registry;      // build.registry
  std::string work_parent;   // where the work directory is made (data_dir/tmp)
  std::string builder;       // absolute path of buildah or podman; empty: found in /usr/bin
};

// The image reference a build of `sha` gets: REGISTRY/APP:git-SHORT (8 digits).
std::string ImageTag(const std::string& registry, const std::string& app, const std::string& sha);

// Builds and pushes; the builder's output goes to this process's stdout and
// stderr (the pusher). OK once the result file names the pushed image.
Status BuildAndPushImage(const ImageBuild& build);

}  // namespace pushgate

#endif  // PUSHGATE_BUILD_IMAGE_BUILD_IMAGE_H_
