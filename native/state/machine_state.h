// Contract between the VMM core (vmm/, napi/) and the whole-machine state layer (state/, kvm/*_state.cc).
// The state layer works on plain KVM fds so it does not depend on the core's classes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <linux/kvm.h>

namespace roam::state {

// Opaque state of one emulated device (UART, i8042, ...), serialised by the device itself.
struct DeviceBlob {
  std::string name;        // section name, e.g. "dev.uart8250.0"
  uint32_t version = 1;    // the device's own format version
  std::vector<uint8_t> data;
};

// What the machine is: checked on restore against the VM the caller built.
struct MachineDesc {
  uint64_t memBytes = 0;
  uint32_t vcpus = 0;
};

// Save every vCPU and VM-wide piece of state listed in ARCHITECTURE.md, plus the CPUID the vCPUs
// were given and the device blobs, into the versioned section format. Preconditions: every vCPU
// is out of KVM_RUN and any pending PIO/MMIO was completed (KVM_RUN with immediate_exit=1).
std::vector<uint8_t> saveMachine(int vmFd, const std::vector<int>& vcpuFds, const MachineDesc& desc,
                                 const std::vector<DeviceBlob>& devices);

// Validate a state blob without touching KVM: throws std::runtime_error with a clear message for
// truncated data, bad magic, a newer major version, or a malformed section.
struct Summary {
  uint16_t major = 0, minor = 0;
  MachineDesc desc;
  struct Section { std::string name; uint32_t version; uint64_t length; };
  std::vector<Section> sections;
};
Summary describe(const uint8_t* data, size_t len);

// Restore into a fresh VM (irqchip + PIT2 created, vCPUs created, CPUID NOT yet set, never run,
// guest RAM already holding the guest's pages). Applies state in the documented order (CPUID first,
// ..., vcpu events last, then VM-wide PIC/IOAPIC/PIT2/clock, then KVM_KVMCLOCK_CTRL) and returns
// the device blobs for the core to hand to its devices. Throws std::runtime_error on any mismatch
// (desc differs from `expect`, missing mandatory section) before changing anything where it can.
std::vector<DeviceBlob> restoreMachine(int vmFd, const std::vector<int>& vcpuFds, const MachineDesc& expect,
                                       const uint8_t* data, size_t len);

}  // namespace roam::state
