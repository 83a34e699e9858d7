// VM-wide pieces of machine state (in-kernel PIC, IOAPIC, PIT, kvmclock) and the capability and
// MSR-list queries the state layer needs. Plain fds in, plain structs out; errors throw
// std::runtime_error naming the ioctl and errno.
#pragma once
#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace roam::kvm {

// C++ gets the flexible-array KVM structs wrong with Debian 12's linux-libc-dev (6.1):
// __DECLARE_FLEX_ARRAY wraps an empty struct, which is 1 byte in C++, so sizeof(kvm_cpuid2) is 12
// (C: 8), kvm_cpuid2::entries sits at 12 (C: 8), kvm_msrs::entries at 16 (C: 8), kvm_msr_list at 8
// (C: 4), sizeof(kvm_xsave) is 4100 (C: 4096) -- and the ioctl numbers, which encode sizeof, no longer
// match the kernel's (EINVAL). So the state layer uses these C-layout heads and ioctl numbers.
namespace abi {
struct Cpuid2Head { uint32_t nent, padding; };   // then nent x kvm_cpuid_entry2 (40 bytes each)
struct MsrsHead { uint32_t nmsrs, pad; };        // then nmsrs x kvm_msr_entry (16 bytes each)
struct MsrListHead { uint32_t nmsrs; };          // then nmsrs x u32
constexpr size_t kXsaveBytes = 4096;             // struct kvm_xsave without its flexible tail
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);
constexpr unsigned long kGetMsrIndexList = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x02, sizeof(MsrListHead));
constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, sizeof(MsrsHead));
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, sizeof(MsrsHead));
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(Cpuid2Head));
constexpr unsigned long kGetCpuid2 = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x91, sizeof(Cpuid2Head));
constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveBytes);
constexpr unsigned long kSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kXsaveBytes);
constexpr unsigned long kGetXsave2 = _IOC(_IOC_READ, KVMIO, 0xcf, kXsaveBytes);
}  // namespace abi

// ioctl() that retries on EINTR and throws "<what> failed: <strerror>" on error; returns the result.
int stateIoctl(int fd, unsigned long request, void* arg, const char* what);

// What this host's KVM offers for saving and restoring vCPU state.
struct StateCaps {
  bool xsave = false;        // KVM_GET/SET_XSAVE (else KVM_GET/SET_FPU)
  uint32_t xsaveBytes = 0;   // buffer size for KVM_GET_XSAVE2 (0: plain 4 KiB KVM_GET_XSAVE)
  bool xcrs = false;
  bool sregs2 = false;
  bool tscControl = false;   // KVM_SET_TSC_KHZ per vCPU
  bool vcpuEvents = false;
  bool debugregs = false;
};
StateCaps queryStateCaps(int vmFd);

// MSR indices KVM can save (KVM_GET_MSR_INDEX_LIST on /dev/kvm, plus the MSRs ARCHITECTURE.md names).
std::vector<uint32_t> msrIndexList();

// KVM_GET_IRQCHIP / KVM_SET_IRQCHIP for chip KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or _IOAPIC.
kvm_irqchip getIrqchip(int vmFd, uint32_t chipId);
void setIrqchip(int vmFd, const kvm_irqchip& chip);

kvm_pit_state2 getPit2(int vmFd);
void setPit2(int vmFd, const kvm_pit_state2& pit);

kvm_clock_data getClock(int vmFd);
// Sets the kvmclock value only: the flags that make KVM shift it by host time are cleared, so the
// guest's clock continues from where it was saved.
void setClock(int vmFd, const kvm_clock_data& clock);

}  // namespace roam::kvm
