#include "kvm/system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "kvm/kvm_abi.h"
#include "kvm/kvm_error.h"

namespace roam::kvm {

KvmSystem::KvmSystem() {
  int fd = ::open(kDevicePath, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string hint = err == ENOENT ? "KVM is not available here: load kvm_intel or kvm_amd, or enable virtualization"
                       : (err == EACCES || err == EPERM) ? "add the user to the 'kvm' group or run as root"
                                                         : "";
    throw KvmError(std::string("open ") + kDevicePath, err, hint);
  }
  fd_ = UniqueFd(fd);
  apiVersion_ = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (apiVersion_ < 0) throwErrno(std::string("KVM_GET_API_VERSION on ") + kDevicePath);
  if (apiVersion_ != KVM_API_VERSION) {
    throw KvmError(std::string(kDevicePath) + " reports KVM API version " + std::to_string(apiVersion_) +
                       ", expected " + std::to_string(KVM_API_VERSION),
                   EINVAL);
  }
}

int KvmSystem::checkExtension(long capability) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

std::vector<kvm_cpuid_entry2> KvmSystem::supportedCpuid() const {
  // The kernel says E2BIG until the buffer is large enough; grow geometrically with a hard cap.
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    // 8-byte head then the entries, in u64s so the entries are suitably aligned.
    std::vector<uint64_t> buf((sizeof(cabi::CpuidHead) + n * sizeof(kvm_cpuid_entry2) + 7) / 8, 0);
    auto* head = reinterpret_cast<cabi::CpuidHead*>(buf.data());
    head->nent = n;
    if (::ioctl(fd_.get(), cabi::kGetSupportedCpuid, head) == 0) {
      auto* entries = reinterpret_cast<const kvm_cpuid_entry2*>(head + 1);
      return std::vector<kvm_cpuid_entry2>(entries, entries + head->nent);
    }
    if (errno != E2BIG) throwErrno("KVM_GET_SUPPORTED_CPUID");
  }
  throw KvmError("KVM_GET_SUPPORTED_CPUID (more than 4096 leaves)", E2BIG);
}

std::vector<uint32_t> KvmSystem::msrIndexList() const {
  cabi::MsrListHead probe{0};
  // The first call reports the count with E2BIG.
  if (::ioctl(fd_.get(), cabi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG) throwErrno("KVM_GET_MSR_INDEX_LIST");
  uint32_t n = probe.nmsrs;
  if (n > 65536) throw KvmError("KVM_GET_MSR_INDEX_LIST (implausible count)", E2BIG);
  std::vector<uint32_t> buf(1 + n, 0);
  buf[0] = n;
  if (::ioctl(fd_.get(), cabi::kGetMsrIndexList, buf.data()) < 0) throwErrno("KVM_GET_MSR_INDEX_LIST");
  uint32_t got = buf[0] < n ? buf[0] : n;
  return std::vector<uint32_t>(buf.begin() + 1, buf.begin() + 1 + got);
}

size_t KvmSystem::vcpuMmapSize() const {
  int r = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r < 0) throwErrno("KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<size_t>(r);
}

UniqueFd KvmSystem::createVm() const {
  int fd;
  do {
    fd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);  // may be interrupted while the kernel sets up the MMU
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throwErrno("KVM_CREATE_VM");
  return UniqueFd(fd);
}

}  // namespace roam::kvm
