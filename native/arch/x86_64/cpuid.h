// CPUID for one vCPU: exactly what KVM_GET_SUPPORTED_CPUID offers (the host CPU here is narrow,
// so nothing is assumed), with this vCPU's APIC id filled in where the guest looks for it.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace roam::x86 {

std::vector<kvm_cpuid_entry2> cpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported, uint32_t apicId,
                                           uint32_t vcpuCount);

}  // namespace roam::x86
