// C-layout views of the flexible-array KVM structs the core uses. With Debian 12's uapi headers,
// C++ sees __DECLARE_FLEX_ARRAY's empty struct as 1 byte: sizeof(kvm_cpuid2) becomes 12 (C: 8),
// entries move to offset 12, and the ioctl numbers (which encode sizeof) no longer match the
// kernel's, so KVM answers EINVAL. (kvm/vm_state.h carries the same fix for the state layer.)
#pragma once
#include <linux/kvm.h>

#include <cstdint>

namespace roam::kvm::cabi {

struct CpuidHead { uint32_t nent, padding; };  // then nent x kvm_cpuid_entry2
struct MsrListHead { uint32_t nmsrs; };        // then nmsrs x u32
static_assert(sizeof(kvm_cpuid_entry2) == 40, "kvm_cpuid_entry2 layout");

constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, sizeof(CpuidHead));
constexpr unsigned long kGetMsrIndexList = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x02, sizeof(MsrListHead));
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(CpuidHead));

}  // namespace roam::kvm::cabi
