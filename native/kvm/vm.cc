#include "kvm/vm.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <string>

#include "kvm/kvm_error.h"

namespace roam::kvm {

KvmVm::KvmVm(const KvmSystem& system) : fd_(system.createVm()) {}

int KvmVm::checkExtension(long capability) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

void KvmVm::createIrqchip() {
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) throwErrno("KVM_CREATE_IRQCHIP");
}

void KvmVm::createPit2() {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;  // port 0x61 handled in-kernel
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0) throwErrno("KVM_CREATE_PIT2");
}

void KvmVm::setTssAddr(uint64_t addr) {
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) throwErrno("KVM_SET_TSS_ADDR");
}

void KvmVm::setIdentityMapAddr(uint64_t addr) {
  __u64 a = addr;
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &a) < 0) throwErrno("KVM_SET_IDENTITY_MAP_ADDR");
}

void KvmVm::setUserMemoryRegion(uint32_t slot, uint32_t flags, uint64_t guestPhys, uint64_t size, void* host) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = flags;
  region.guest_phys_addr = guestPhys;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    throwErrno("KVM_SET_USER_MEMORY_REGION (slot " + std::to_string(slot) + ")");
  }
}

bool KvmVm::enableManualDirtyLogProtect() {
  int flags = checkExtension(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  if (!(flags & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) return false;
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
  // Not INITIALLY_SET: slots start write-protected with an empty log, like the legacy mode.
  cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
  if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) < 0) throwErrno("KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2)");
  manualProtect_ = true;
  return true;
}

void KvmVm::getDirtyLog(uint32_t slot, uint64_t* bitmap) {
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap;
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) throwErrno("KVM_GET_DIRTY_LOG (slot " + std::to_string(slot) + ")");
}

void KvmVm::clearDirtyLog(uint32_t slot, uint64_t firstPage, uint32_t numPages, uint64_t* bitmap) {
  kvm_clear_dirty_log clear{};
  clear.slot = slot;
  clear.first_page = firstPage;
  clear.num_pages = numPages;
  clear.dirty_bitmap = bitmap;
  if (::ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &clear) < 0) {
    throwErrno("KVM_CLEAR_DIRTY_LOG (slot " + std::to_string(slot) + ")");
  }
}

void KvmVm::irqLine(uint32_t irq, bool level) {
  kvm_irq_level line{};
  line.irq = irq;
  line.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &line) < 0) throwErrno("KVM_IRQ_LINE (irq " + std::to_string(irq) + ")");
}

UniqueFd KvmVm::createVcpu(unsigned id) {
  int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) throwErrno("KVM_CREATE_VCPU (" + std::to_string(id) + ")");
  return UniqueFd(fd);
}

}  // namespace roam::kvm
