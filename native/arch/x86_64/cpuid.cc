#include "arch/x86_64/cpuid.h"

namespace roam::x86 {

std::vector<kvm_cpuid_entry2> cpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported, uint32_t apicId,
                                           uint32_t vcpuCount) {
  std::vector<kvm_cpuid_entry2> out = supported;
  for (auto& e : out) {
    switch (e.function) {
      case 0x1:
        // EBX[31:24] initial APIC id, EBX[23:16] logical processors per package,
        // EBX[15:8] CLFLUSH line size in 8-byte units (64 bytes).
        e.ebx = (apicId << 24) | ((vcpuCount & 0xFF) << 16) | (8u << 8) | (e.ebx & 0xFF);
        if (vcpuCount > 1) e.edx |= 1u << 28;  // HTT: the count in EBX[23:16] is valid
        break;
      case 0xB:
      case 0x1F:
        e.edx = apicId;  // x2APIC id, reported in every sub-leaf
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace roam::x86
