#include "kvm/vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <string>

#include "kvm/kvm_abi.h"
#include "kvm/kvm_error.h"

namespace roam::kvm {

KvmVcpu::KvmVcpu(const KvmSystem& system, KvmVm& vm, unsigned id) : fd_(vm.createVcpu(id)), id_(id) {
  runSize_ = system.vcpuMmapSize();
  void* p = ::mmap(nullptr, runSize_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) throwErrno("mmap kvm_run (vCPU " + std::to_string(id) + ")");
  run_ = static_cast<kvm_run*>(p);
}

KvmVcpu::~KvmVcpu() {
  if (run_) ::munmap(run_, runSize_);
}

int KvmVcpu::runOnce() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return 0;
  int err = errno;
  if (err == EINTR || err == EAGAIN) return err;
  throw KvmError("KVM_RUN (vCPU " + std::to_string(id_) + ")", err);
}

void KvmVcpu::setImmediateExit(bool on) {
  // Written by the pausing thread while the vCPU thread may be entering KVM_RUN.
  __atomic_store_n(&run_->immediate_exit, on ? 1 : 0, __ATOMIC_SEQ_CST);
}

kvm_regs KvmVcpu::getRegs() const {
  kvm_regs regs{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) throwErrno("KVM_GET_REGS");
  return regs;
}

void KvmVcpu::setRegs(const kvm_regs& regs) {
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) throwErrno("KVM_SET_REGS");
}

kvm_sregs KvmVcpu::getSregs() const {
  kvm_sregs sregs{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) throwErrno("KVM_GET_SREGS");
  return sregs;
}

void KvmVcpu::setSregs(const kvm_sregs& sregs) {
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) throwErrno("KVM_SET_SREGS");
}

void KvmVcpu::setCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<uint64_t> buf((sizeof(cabi::CpuidHead) + entries.size() * sizeof(kvm_cpuid_entry2) + 7) / 8, 0);
  auto* head = reinterpret_cast<cabi::CpuidHead*>(buf.data());
  head->nent = static_cast<uint32_t>(entries.size());
  auto* out = reinterpret_cast<kvm_cpuid_entry2*>(head + 1);
  for (size_t i = 0; i < entries.size(); ++i) out[i] = entries[i];
  if (::ioctl(fd_.get(), cabi::kSetCpuid2, head) < 0) throwErrno("KVM_SET_CPUID2 (vCPU " + std::to_string(id_) + ")");
}

}  // namespace roam::kvm
