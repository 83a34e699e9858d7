// Guest RAM: one memfd (so another process can map the same pages, and a same-host hand-over copies
// nothing) mapped once, split into KVM slots around the 3..4 GiB MMIO hole (LAPIC, IOAPIC live there).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "memory/dirty_bitmap.h"

namespace roam::memory {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kLowRamLimit = 3ull << 30;   // RAM below the hole ends here at most
constexpr uint64_t kHighRamBase = 4ull << 30;   // RAM above the hole starts here

struct RamSlot {
  uint32_t slot;
  uint64_t guestPhys;
  uint64_t size;
  uint64_t memfdOffset;
};

class GuestMemory {
 public:
  // Creates and maps the memfd; throws std::runtime_error with errno text on failure.
  explicit GuestMemory(uint64_t bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return bytes_; }
  int fd() const { return fd_; }
  const std::vector<RamSlot>& slots() const { return slots_; }
  const RamSlot* findSlot(uint32_t slot) const;
  uint8_t* slotHost(const RamSlot& s) const { return base_ + s.memfdOffset; }

  // Host pointer for guest range [gpa, gpa+len) if it lies wholly inside one slot, else nullptr.
  uint8_t* translate(uint64_t gpa, uint64_t len) const;

  // Host-side writes into guest RAM; throw std::out_of_range if the range is not RAM. They mark
  // the VMM dirty bitmap, since KVM's log does not see them.
  void write(uint64_t gpa, const void* src, uint64_t len);
  void fill(uint64_t gpa, uint8_t value, uint64_t len);
  // Marks a guest range written by host code that used translate() directly.
  void markDirty(uint64_t gpa, uint64_t len);
  DirtyBitmap& vmmDirty(uint32_t slot);

 private:
  uint64_t bytes_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  std::vector<RamSlot> slots_;
  std::vector<std::unique_ptr<DirtyBitmap>> dirty_;
};

}  // namespace roam::memory
