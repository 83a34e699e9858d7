// Guest RAM: one memfd (so another process can map the same pages, and a same-host hand-over copies
// nothing) mapped once, split into KVM slots around the 3..4 GiB MMIO hole (LAPIC, IOAPIC live there).
// Device memory that must migrate like RAM (the linear framebuffer) lives in the same memfd right
// after RAM, as its own slot inside the hole; it is never RAM to the guest (not in e820, not a load
// target), but dirty tracking, windows and mapGuestMemory treat it exactly like a RAM slot.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "memory/dirty_bitmap.h"

namespace roam::memory {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kLowRamLimit = 3ull << 30;   // RAM below the hole ends here at most
constexpr uint64_t kHighRamBase = 4ull << 30;   // RAM above the hole starts here

enum class SlotKind : uint8_t { Ram, Framebuffer };

// One KVM memory slot backed by the memfd (RAM or the framebuffer: see `kind`).
struct RamSlot {
  uint32_t slot;
  uint64_t guestPhys;
  uint64_t size;
  uint64_t memfdOffset;
  SlotKind kind = SlotKind::Ram;
};

// Device memory placed after RAM in the memfd, as slot `slot` at `guestPhys`.
struct DeviceRegion {
  uint32_t slot;
  uint64_t guestPhys;
  uint64_t size;
  SlotKind kind;
};

class GuestMemory {
 public:
  // Creates and maps the memfd (RAM, then `device` if given); throws std::runtime_error with errno
  // text on failure, std::invalid_argument for a bad size or a device region overlapping RAM.
  explicit GuestMemory(uint64_t bytes, const DeviceRegion* device = nullptr);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return bytes_; }            // RAM only
  uint64_t mappedBytes() const { return mapped_; }     // RAM plus device memory: the memfd's size
  int fd() const { return fd_; }
  const std::vector<RamSlot>& slots() const { return slots_; }
  const RamSlot* findSlot(uint32_t slot) const;
  uint8_t* slotHost(const RamSlot& s) const { return base_ + s.memfdOffset; }

  // The slot numbers for messages: "0..1" when contiguous from 0, else "0, 2".
  std::string slotNames() const;
  // The first slot of this kind, or nullptr.
  const RamSlot* slotOfKind(SlotKind kind) const;

  // Host pointer for guest range [gpa, gpa+len) if it lies wholly inside one RAM slot, else nullptr.
  uint8_t* translate(uint64_t gpa, uint64_t len) const;

  // Host-side writes into guest RAM; throw std::out_of_range if the range is not RAM. They mark
  // the VMM dirty bitmap, since KVM's log does not see them.
  void write(uint64_t gpa, const void* src, uint64_t len);
  void fill(uint64_t gpa, uint8_t value, uint64_t len);
  // Marks a guest range written by host code that used translate() directly (any slot kind).
  void markDirty(uint64_t gpa, uint64_t len);
  DirtyBitmap& vmmDirty(uint32_t slot);

 private:
  uint64_t bytes_;
  uint64_t mapped_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  std::vector<RamSlot> slots_;
  std::vector<std::unique_ptr<DirtyBitmap>> dirty_;
};

}  // namespace roam::memory
