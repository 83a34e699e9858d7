#include "vmm/exit_handler.h"

#include <cstdio>
#include <string>

namespace roam::vmm {

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string ripOf(kvm::KvmVcpu& vcpu) {
  try {
    return hex(vcpu.getRegs().rip);
  } catch (const std::exception&) {
    return "unknown";
  }
}

ExitOutcome failure(ExitOutcome::Action action, std::string message) {
  ExitOutcome o;
  o.action = action;
  o.event = VmEvent{VmEvent::Type::Error, std::move(message)};
  return o;
}

std::string internalErrorName(uint32_t sub) {
  switch (sub) {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
    default: return "unknown";
  }
}

ExitOutcome handleIo(kvm_run* run, size_t runSize, devices::PioBus& pio) {
  auto& io = run->io;
  uint64_t bytes = uint64_t(io.size) * io.count;
  // The data area is inside the kvm_run mapping; check before touching it even though KVM is trusted.
  if (io.size == 0 || io.size > 4 || io.data_offset >= runSize || bytes > runSize - io.data_offset) {
    return failure(ExitOutcome::Action::StopVcpu, "KVM_EXIT_IO with an impossible data area");
  }
  uint8_t* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
  for (uint32_t i = 0; i < io.count; ++i) {
    uint8_t* item = data + uint64_t(i) * io.size;
    if (io.direction == KVM_EXIT_IO_IN) pio.read(io.port, item, io.size);
    else pio.write(io.port, item, io.size);
  }
  ExitOutcome o;
  o.needsCompletion = true;
  return o;
}

}  // namespace

ExitOutcome handleExit(kvm::KvmVcpu& vcpu, devices::PioBus& pio, devices::MmioBus& mmio) {
  kvm_run* run = vcpu.run();
  const std::string who = "vCPU " + std::to_string(vcpu.id());
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      return handleIo(run, vcpu.runSize(), pio);
    case KVM_EXIT_MMIO: {
      auto& m = run->mmio;
      uint32_t len = m.len > sizeof m.data ? sizeof m.data : m.len;
      if (m.is_write) mmio.write(m.phys_addr, m.data, len);
      else mmio.read(m.phys_addr, m.data, len);
      ExitOutcome o;
      o.needsCompletion = true;
      return o;
    }
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_HLT:  // with the in-kernel LAPIC, HLT is handled in the kernel; nothing to do
      return ExitOutcome{};
    case KVM_EXIT_SHUTDOWN: {
      ExitOutcome o;
      o.action = ExitOutcome::Action::StopMachine;
      o.event = VmEvent{VmEvent::Type::Shutdown, who + ": shutdown (triple fault) at RIP " + ripOf(vcpu)};
      return o;
    }
    case KVM_EXIT_SYSTEM_EVENT: {
      ExitOutcome o;
      o.action = ExitOutcome::Action::StopMachine;
      if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) o.event = VmEvent{VmEvent::Type::Reset, ""};
      else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) o.event = VmEvent{VmEvent::Type::Shutdown, ""};
      else o.event = VmEvent{VmEvent::Type::Error, who + ": system event " + std::to_string(run->system_event.type)};
      return o;
    }
    case KVM_EXIT_FAIL_ENTRY:
      return failure(ExitOutcome::Action::StopVcpu,
                     who + ": KVM_EXIT_FAIL_ENTRY, hardware entry failure reason " +
                         hex(run->fail_entry.hardware_entry_failure_reason) + " at RIP " + ripOf(vcpu));
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string msg = who + ": KVM_EXIT_INTERNAL_ERROR, suberror " + std::to_string(run->internal.suberror) + " (" +
                        internalErrorName(run->internal.suberror) + ") at RIP " + ripOf(vcpu);
      uint32_t n = run->internal.ndata > 16 ? 16 : run->internal.ndata;
      if (n) {
        msg += ", data";
        for (uint32_t i = 0; i < n; ++i) msg += " " + hex(run->internal.data[i]);
      }
      return failure(ExitOutcome::Action::StopVcpu, msg);
    }
    default:
      return failure(ExitOutcome::Action::StopVcpu,
                     who + ": unhandled KVM exit reason " + std::to_string(run->exit_reason) + " at RIP " + ripOf(vcpu));
  }
}

}  // namespace roam::vmm
