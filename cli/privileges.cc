#include "cli/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/fs.h"

namespace pushgate {

Status BecomeGitUser(const Config& config) {
  struct passwd* pw = ::getpwnam(config.git_user.c_str());
  if (pw == nullptr) {
    return Status::NotFound("git_user \"" + config.git_user + "\" does not exist; create it with: useradd --system "
                            "--shell /bin/sh --home-dir " + config.data_dir + " " + config.git_user +
                            " && usermod -p '*' " + config.git_user);
  }
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  uid_t me = ::geteuid();
  if (me == uid) return MakeDirs(config.data_dir, 0750);
  if (me != 0) {
    return Status::PermissionDenied("run pushgate as root or as " + config.git_user +
                                    " (the owner of " + config.data_dir + ")");
  }
  struct stat st;
  if (::stat(config.data_dir.c_str(), &st) != 0) {
    PG_RETURN_IF_ERROR(MakeDirs(config.data_dir, 0750));
    if (::stat(config.data_dir.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + config.data_dir);
  }
  if (st.st_uid != uid && ::chown(config.data_dir.c_str(), uid, gid) != 0) {
    return Status::FromErrno(errno, "chown " + config.data_dir + " to " + config.git_user);
  }
  int ngroups = 64;
  std::vector<gid_t> groups(static_cast<size_t>(ngroups));
  if (::getgrouplist(pw->pw_name, gid, groups.data(), &ngroups) < 0) {
    groups.resize(static_cast<size_t>(ngroups));
    ::getgrouplist(pw->pw_name, gid, groups.data(), &ngroups);
  }
  groups.resize(static_cast<size_t>(ngroups));
  if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(gid, gid, gid) != 0 ||
      ::setresuid(uid, uid, uid) != 0) {
    return Status::FromErrno(errno, "switch to user " + config.git_user);
  }
  if (::setuid(0) == 0) return Status::Internal("could not drop root privileges");
  return Status::OK();
}

}  // namespace pushgate
