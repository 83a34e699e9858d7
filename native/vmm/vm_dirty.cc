// The dirty log of one slot: KVM's log of guest writes OR the VMM's bitmap of host writes. For the
// framebuffer slot every fetch goes into both of its readers' accumulators (devices/framebuffer.h).
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "vmm/vm.h"

namespace roam::vmm {

void Vm::fetchFramebufferLogLocked(const memory::RamSlot& s) {
  using devices::Framebuffer;
  uint64_t bits[Framebuffer::kWords] = {};
  vm_.getDirtyLog(s.slot, bits);
  // With manual protect, re-protect exactly what was read; legacy GET already cleared KVM's copy.
  // Either way the bits now live in the accumulators, so KVM's copy can always be taken.
  if (vm_.manualDirtyLogProtect()) vm_.clearDirtyLog(s.slot, 0, uint32_t(Framebuffer::kPages), bits);
  memory_->vmmDirty(s.slot).collect(bits, true);
  framebuffer_->absorb(bits, Framebuffer::kWords);
}

void Vm::dirtyLog(uint32_t slot, uint64_t* out, size_t outWords, bool clear) {
  const memory::RamSlot* s = memory_->findSlot(slot);
  if (!s) {
    throw std::invalid_argument("no RAM slot " + std::to_string(slot) + " (this VM has slots " + memory_->slotNames() + ")");
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
  if (s->kind == memory::SlotKind::Framebuffer) {
    fetchFramebufferLogLocked(*s);
    std::memset(out, 0, words * 8);
    framebuffer_->takeMigration(out, clear);
    return;
  }
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

void Vm::displayDamage(uint64_t* out, size_t outWords) {
  using devices::Framebuffer;
  if (!framebuffer_) throw std::runtime_error("displayDamage: this VM was created with display off");
  if (outWords < Framebuffer::kWords) {
    throw std::invalid_argument("damage buffer holds " + std::to_string(outWords * 8) + " bytes; it needs " +
                                std::to_string(Framebuffer::kDamageBytes) + " (one bit per scanline)");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) throw std::runtime_error("displayDamage: the VM is closed");
  }
  std::lock_guard<std::mutex> lock(dirtyMutex_);
  fetchFramebufferLogLocked(*memory_->findSlot(Framebuffer::kSlot));
  std::memset(out, 0, Framebuffer::kWords * 8);
  framebuffer_->takeDisplay(out);
}

}  // namespace roam::vmm
