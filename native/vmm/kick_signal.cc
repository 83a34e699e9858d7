#include "vmm/kick_signal.h"

#include <signal.h>

#include <mutex>

namespace roam::vmm {

namespace {
void noopHandler(int) {}
}  // namespace

// SIGRTMIN itself may be used by libc; +4 keeps clear of the ones runtimes commonly take.
int kickSignal() { return SIGRTMIN + 4; }

void installKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = noopHandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(kickSignal(), &sa, nullptr);
  });
}

void unblockKickSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void kickThread(pthread_t thread) { pthread_kill(thread, kickSignal()); }

}  // namespace roam::vmm
