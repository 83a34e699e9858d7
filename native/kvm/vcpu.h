// One KVM vCPU fd with its mmapped kvm_run area: KVM_RUN and the register setters boot needs.
// (Full save/restore of vCPU state lives in kvm/vcpu_state.*, owned by the state layer.)
#pragma once
#include <linux/kvm.h>

#include <cstddef>
#include <vector>

#include "kvm/system.h"
#include "kvm/unique_fd.h"
#include "kvm/vm.h"

namespace roam::kvm {

class KvmVcpu {
 public:
  KvmVcpu(const KvmSystem& system, KvmVm& vm, unsigned id);
  ~KvmVcpu();
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  int fd() const { return fd_.get(); }
  unsigned id() const { return id_; }
  kvm_run* run() const { return run_; }
  size_t runSize() const { return runSize_; }

  // One KVM_RUN. Returns 0 after a real exit (see run()->exit_reason), or EINTR/EAGAIN when the
  // run was interrupted (signal or immediate_exit); throws KvmError on any other failure.
  int runOnce();
  // Set from any thread: the next (or current, once kicked) KVM_RUN returns EINTR at once.
  void setImmediateExit(bool on);

  kvm_regs getRegs() const;
  void setRegs(const kvm_regs& regs);
  kvm_sregs getSregs() const;
  void setSregs(const kvm_sregs& sregs);
  void setCpuid(const std::vector<kvm_cpuid_entry2>& entries);

 private:
  UniqueFd fd_;
  unsigned id_;
  kvm_run* run_ = nullptr;
  size_t runSize_ = 0;
};

}  // namespace roam::kvm
