// The one place pushgate-sshd holds libssh's server-side handles: RAII
// owners for each, and libssh's errors as Status values.
#ifndef PUSHGATE_SSH_SERVER_LIBSSH_HANDLES_H_
#define PUSHGATE_SSH_SERVER_LIBSSH_HANDLES_H_

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace pushgate {

struct SshBindFree {
  void operator()(ssh_bind bind) const { ssh_bind_free(bind); }
};
struct SshSessionFree {
  void operator()(ssh_session session) const { ssh_free(session); }
};
struct SshEventFree {
  void operator()(ssh_event event) const { ssh_event_free(event); }
};
struct SshKeyFree {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
struct SshChannelFree {
  void operator()(ssh_channel channel) const { ssh_channel_free(channel); }
};

using SshBind = std::unique_ptr<std::remove_pointer_t<ssh_bind>, SshBindFree>;
using SshSession = std::unique_ptr<std::remove_pointer_t<ssh_session>, SshSessionFree>;
using SshEvent = std::unique_ptr<std::remove_pointer_t<ssh_event>, SshEventFree>;
using SshKey = std::unique_ptr<std::remove_pointer_t<ssh_key>, SshKeyFree>;
using SshChannel = std::unique_ptr<std::remove_pointer_t<ssh_channel>, SshChannelFree>;

// `what` failed, with libssh's own message for the handle when it has one.
Status SshError(std::string_view what, void* handle);

// A public key as "TYPE BASE64", the form ParsePublicKeyLine and the key
// cache use; an error for a key libssh cannot export.
Result<std::string> PublicKeyLine(ssh_key key);

}  // namespace pushgate

#endif  // PUSHGATE_SSH_SERVER_LIBSSH_HANDLES_H_
