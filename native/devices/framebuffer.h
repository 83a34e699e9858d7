// The linear framebuffer (NativeVm.display() in native/index.ts; the probe's desktop in guest/README.md):
// 1024x768 XRGB8888, one 4 KiB page per scanline, as guest memory in its own KVM slot inside the MMIO
// hole. It has no registers: the guest learns the geometry from the multiboot info and writes pixels
// straight into the slot.
//
// Its dirty log has two readers, migration (dirtyLog) and the display (displayDamage). KVM keeps
// one log per slot, so whatever is fetched from KVM is ORed into both accumulators here and each
// reader clears only its own: neither steals the other's damage.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "memory/guest_memory.h"

namespace roam::devices {

class Framebuffer {
 public:
  static constexpr uint32_t kSlot = 2;
  static constexpr uint64_t kGuestPhysAddr = 0xE0000000;
  static constexpr uint32_t kWidth = 1024;
  static constexpr uint32_t kHeight = 768;
  static constexpr uint32_t kBitsPerPixel = 32;
  static constexpr uint32_t kStride = 4096;  // one page per scanline: bit i of the dirty log = line i
  static constexpr uint64_t kBytes = uint64_t(kStride) * kHeight;
  static constexpr uint64_t kPages = kBytes / memory::kPageSize;
  static constexpr size_t kWords = (kPages + 63) / 64;
  static constexpr size_t kDamageBytes = kWords * 8;  // 96

  // Where the framebuffer goes in the memfd-backed guest memory.
  static memory::DeviceRegion region() {
    return memory::DeviceRegion{kSlot, kGuestPhysAddr, kBytes, memory::SlotKind::Framebuffer};
  }

  // Adds pages seen written (KVM's log and the VMM's own marks) to both readers' accumulators.
  void absorb(const uint64_t* bits, size_t words);
  // Migration's view: ORs its accumulator into out[0..kWords); clears it when `clear`.
  void takeMigration(uint64_t* out, bool clear);
  // The display's view: ORs and clears its accumulator.
  void takeDisplay(uint64_t* out);

 private:
  std::mutex mutex_;
  uint64_t migration_[kWords] = {};
  uint64_t display_[kWords] = {};
};

}  // namespace roam::devices
