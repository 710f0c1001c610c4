// pushgate-deploy as a function: the hook's build environment
// (PUSHGATE_APP, PUSHGATE_SHA, PUSHGATE_SOURCE, PUSHGATE_SOURCE_SHA256) to a
// DeployRequest, the release deployed, one line for the pusher. A SIGTERM
// (the hook giving up on the build) stops it, and what it unpacked is
// removed instead of left for the next deploy.
#ifndef PUSHGATE_DEPLOY_DEPLOY_PROGRAM_H_
#define PUSHGATE_DEPLOY_DEPLOY_PROGRAM_H_

#include <string>

namespace pushgate {

// Exit status: 0 deployed, 1 not (the reason on stderr).
int RunDeployProgram(const std::string& config_path, int keep);

}  // namespace pushgate

#endif  // PUSHGATE_DEPLOY_DEPLOY_PROGRAM_H_
