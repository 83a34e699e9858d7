// The KVM system fd (/dev/kvm): API version, capabilities, what the host CPU offers guests.
#pragma once
#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvm/unique_fd.h"

namespace roam::kvm {

class KvmSystem {
 public:
  static constexpr const char* kDevicePath = "/dev/kvm";

  // Opens /dev/kvm and checks the API version; throws a KvmError whose message names /dev/kvm
  // (missing, no permission, wrong version) so the user knows what to fix.
  KvmSystem();

  int fd() const { return fd_.get(); }
  int apiVersion() const { return apiVersion_; }
  // KVM_CHECK_EXTENSION on the system fd: 0 = absent, >0 = present (some caps return a value).
  int checkExtension(long capability) const;
  // KVM_GET_SUPPORTED_CPUID: the leaves this host can give a guest.
  std::vector<kvm_cpuid_entry2> supportedCpuid() const;
  // KVM_GET_MSR_INDEX_LIST: the MSRs KVM can save and restore.
  std::vector<uint32_t> msrIndexList() const;
  // Size of the per-vCPU kvm_run mapping.
  size_t vcpuMmapSize() const;
  // KVM_CREATE_VM; the caller owns the returned fd.
  UniqueFd createVm() const;

 private:
  UniqueFd fd_;
  int apiVersion_ = 0;
};

}  // namespace roam::kvm
