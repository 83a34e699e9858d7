// Turns one KVM exit into device accesses or a verdict. Port and MMIO exits go to the buses; exits
// the VMM cannot handle become an event with the reason, suberror and RIP.
#pragma once
#include <linux/kvm.h>

#include <optional>

#include "devices/mmio_bus.h"
#include "devices/pio_bus.h"
#include "kvm/vcpu.h"
#include "vmm/vm_event.h"

namespace roam::vmm {

struct ExitOutcome {
  enum class Action { Continue, StopVcpu, StopMachine } action = Action::Continue;
  // True when KVM still has to finish the instruction (I/O IN result, MMIO read) on the next KVM_RUN.
  bool needsCompletion = false;
  std::optional<VmEvent> event;
};

ExitOutcome handleExit(kvm::KvmVcpu& vcpu, devices::PioBus& pio, devices::MmioBus& mmio);

}  // namespace roam::vmm
