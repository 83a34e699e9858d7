// The real-time signal that knocks a vCPU thread out of KVM_RUN (it returns EINTR). The handler does
// nothing: the point is only the interrupted ioctl, so it is installed without SA_RESTART.
#pragma once
#include <pthread.h>

namespace roam::vmm {

int kickSignal();
// Installs the no-op handler once per process.
void installKickHandler();
// Called on each vCPU thread: make sure the kick signal is not blocked there.
void unblockKickSignal();
void kickThread(pthread_t thread);

}  // namespace roam::vmm
