// The dirty log of one RAM slot: KVM's log of guest writes OR the VMM's bitmap of host writes.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "vmm/vm.h"

namespace roam::vmm {

void Vm::dirtyLog(uint32_t slot, uint64_t* out, size_t outWords, bool clear) {
  const memory::RamSlot* s = memory_->findSlot(slot);
  if (!s) {
    throw std::invalid_argument("no RAM slot " + std::to_string(slot) + " (this VM has slots 0.." +
                                std::to_string(memory_->slots().size() - 1) + ")");
  }
  uint64_t pages = s->size / memory::kPageSize, words = (pages + 63) / 64;
  if (outWords < words) {
    throw std::invalid_argument("dirty bitmap buffer holds " + std::to_string(outWords * 8) + " bytes; slot " +
                                std::to_string(slot) + " needs " + std::to_string(words * 8) +
                                " (ceil(pages/64)*8 for " + std::to_string(pages) + " pages)");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) throw std::runtime_error("dirtyLog: the VM is closed");
  }
  std::lock_guard<std::mutex> lock(dirtyMutex_);
  std::vector<uint64_t> kvmBits(words, 0);
  vm_.getDirtyLog(slot, kvmBits.data());
  if (vm_.manualDirtyLogProtect()) {
    // Re-protect exactly the pages we report; a page written after GET stays set for next time.
    if (clear) vm_.clearDirtyLog(slot, 0, uint32_t(pages), kvmBits.data());
  } else {
    // Legacy GET_DIRTY_LOG already cleared KVM's copy: keep what we read until the caller clears.
    auto& pending = legacyPendingDirty_[slot];
    for (uint64_t i = 0; i < words; ++i) kvmBits[i] |= pending[i];
    if (clear) std::fill(pending.begin(), pending.end(), 0);
    else pending = kvmBits;
  }
  std::memcpy(out, kvmBits.data(), words * 8);
  memory_->vmmDirty(slot).collect(out, clear);
}

}  // namespace roam::vmm
