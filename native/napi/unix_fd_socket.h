// Contract: `unixFdSocket` on the addon's exports — a blocking unix-socket link
// that can receive file descriptors (SCM_RIGHTS), which Node's net module
// cannot. roamd uses it for the one D-Bus call that returns a descriptor:
// logind's Inhibit, whose lock lives exactly as long as that descriptor.
// Defined in napi/unix_fd_socket.cc; the module init calls this once.
#pragma once
#include <napi.h>

namespace roam::napi {
void registerUnixFdSocket(Napi::Env env, Napi::Object exports);
}
