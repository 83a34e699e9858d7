// The KVM VM fd: in-kernel irqchip/PIT, memory slots, dirty log, vCPU creation.
#pragma once
#include <linux/kvm.h>

#include <cstdint>

#include "kvm/system.h"
#include "kvm/unique_fd.h"

namespace roam::kvm {

class KvmVm {
 public:
  explicit KvmVm(const KvmSystem& system);

  int fd() const { return fd_.get(); }

  // KVM_CHECK_EXTENSION on the VM fd (per-VM answers, e.g. manual dirty-log flags).
  int checkExtension(long capability) const;
  void createIrqchip();                        // in-kernel PIC + IOAPIC + LAPICs
  void createPit2();                           // in-kernel PIT (and port 0x61)
  void setTssAddr(uint64_t addr);              // 3 pages in the MMIO hole, needed on Intel
  void setIdentityMapAddr(uint64_t addr);      // 1 page in the MMIO hole, needed on Intel
  void setUserMemoryRegion(uint32_t slot, uint32_t flags, uint64_t guestPhys, uint64_t size, void* host);

  // Enables KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (GET_DIRTY_LOG no longer clears; CLEAR_DIRTY_LOG
  // re-protects only what the caller names). Returns false when the kernel does not offer it.
  bool enableManualDirtyLogProtect();
  bool manualDirtyLogProtect() const { return manualProtect_; }

  // KVM_GET_DIRTY_LOG into `bitmap` (ceil(pages/64) words).
  void getDirtyLog(uint32_t slot, uint64_t* bitmap);
  // KVM_CLEAR_DIRTY_LOG: firstPage must be a multiple of 64; numPages a multiple of 64 or reach the slot's end.
  void clearDirtyLog(uint32_t slot, uint64_t firstPage, uint32_t numPages, uint64_t* bitmap);

  // KVM_IRQ_LINE on the in-kernel PIC/IOAPIC.
  void irqLine(uint32_t irq, bool level);

  // KVM_CREATE_VCPU; the caller owns the fd.
  UniqueFd createVcpu(unsigned id);

 private:
  UniqueFd fd_;
  bool manualProtect_ = false;
};

}  // namespace roam::kvm
