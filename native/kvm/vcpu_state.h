// Per-vCPU pieces of machine state, one get/set pair per KVM ioctl. The vCPU must be out of
// KVM_RUN. Errors throw std::runtime_error naming the ioctl and errno.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace roam::kvm {

std::vector<kvm_cpuid_entry2> getCpuid(int vcpuFd);
void setCpuid(int vcpuFd, const std::vector<kvm_cpuid_entry2>& entries);

// 0 when the host cannot say (no KVM_GET_TSC_KHZ).
uint32_t getTscKhz(int vcpuFd);
void setTscKhz(int vcpuFd, uint32_t khz);

uint32_t getMpState(int vcpuFd);
void setMpState(int vcpuFd, uint32_t state);

kvm_regs getRegs(int vcpuFd);
void setRegs(int vcpuFd, const kvm_regs& r);

kvm_sregs getSregs(int vcpuFd);
void setSregs(int vcpuFd, const kvm_sregs& s);
kvm_sregs2 getSregs2(int vcpuFd);
void setSregs2(int vcpuFd, const kvm_sregs2& s);

// `bytes` is 0 for the classic 4 KiB KVM_GET_XSAVE, else the KVM_CAP_XSAVE2 size.
std::vector<uint8_t> getXsave(int vcpuFd, uint32_t bytes);
void setXsave(int vcpuFd, const std::vector<uint8_t>& area);   // at least abi::kXsaveBytes (4096) bytes
kvm_fpu getFpu(int vcpuFd);
void setFpu(int vcpuFd, const kvm_fpu& f);

kvm_xcrs getXcrs(int vcpuFd);
void setXcrs(int vcpuFd, const kvm_xcrs& x);

kvm_lapic_state getLapic(int vcpuFd);
void setLapic(int vcpuFd, const kvm_lapic_state& l);

// Of `candidates`, those KVM_GET_MSRS reads on this vCPU (one probe per index).
std::vector<uint32_t> readableMsrs(int vcpuFd, const std::vector<uint32_t>& candidates);
std::vector<kvm_msr_entry> getMsrs(int vcpuFd, const std::vector<uint32_t>& indices);
// Throws, naming the MSR, when KVM refuses one of them.
void setMsrs(int vcpuFd, const std::vector<kvm_msr_entry>& entries);

kvm_debugregs getDebugregs(int vcpuFd);
void setDebugregs(int vcpuFd, const kvm_debugregs& d);

kvm_vcpu_events getEvents(int vcpuFd);
void setEvents(int vcpuFd, const kvm_vcpu_events& e);

// Tells the guest's kvmclock that the vCPU was stopped (so its soft-lockup watchdog does not fire).
// Returns false when the guest does not use kvmclock (EINVAL), which is not an error.
bool kvmclockCtrl(int vcpuFd);

}  // namespace roam::kvm
