// Which sections this roam knows (names, versions, payload sizes) and the whole-file checks that
// both describe() and restoreMachine() run before anything touches KVM. FORMAT.md lists them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "format.h"
#include "machine_state.h"

namespace roam::state {

// Section names. Per-vCPU sections are "vcpu.<index>.<part>" with a decimal index.
namespace names {
constexpr const char* kMachine = "machine";
constexpr const char* kPicMaster = "vm.pic_master";
constexpr const char* kPicSlave = "vm.pic_slave";
constexpr const char* kIoapic = "vm.ioapic";
constexpr const char* kPit2 = "vm.pit2";
constexpr const char* kClock = "vm.clock";
constexpr const char* kDevicePrefix = "dev.";
// Per-vCPU parts.
constexpr const char* kCpuid = "cpuid";
constexpr const char* kTscKhz = "tsc_khz";
constexpr const char* kMpState = "mp_state";
constexpr const char* kRegs = "regs";
constexpr const char* kSregs = "sregs";
constexpr const char* kSregs2 = "sregs2";
constexpr const char* kXsave = "xsave";
constexpr const char* kFpu = "fpu";
constexpr const char* kXcrs = "xcrs";
constexpr const char* kLapic = "lapic";
constexpr const char* kMsrs = "msrs";
constexpr const char* kDebugregs = "debugregs";
constexpr const char* kEvents = "events";
}  // namespace names

std::string vcpuSection(uint32_t vcpu, const char* part);

constexpr uint32_t kMaxVcpus = 1024;
constexpr uint32_t kMaxCpuidEntries = 512;
constexpr uint32_t kMaxMsrs = 4096;
constexpr uint64_t kMaxXsaveBytes = 1u << 20;
constexpr size_t kCpuidEntryBytes = 28;   // function, index, flags, eax, ebx, ecx, edx (u32 each)
constexpr size_t kMsrEntryBytes = 12;     // index u32, value u64

// A parsed file whose known sections were all checked: the sections restore needs are present
// with the right sizes. `known` excludes unknown optional sections (skipped).
struct CheckedState {
  ParsedState parsed;
  MachineDesc desc;
  std::vector<const SectionView*> known;
  const SectionView* find(const std::string& name) const;
  const SectionView& need(const std::string& name) const;   // throws if absent
};

// Throws std::runtime_error with a clear message for an unknown mandatory section, a section of a
// newer version than this roam reads, a wrong payload size, a missing mandatory section.
// The result holds views into `data`, which must outlive it.
CheckedState checkState(const uint8_t* data, size_t len);

}  // namespace roam::state
