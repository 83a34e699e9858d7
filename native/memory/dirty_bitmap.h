// The VMM's own record of guest pages written by host code (loaders, devices). KVM's dirty log only
// sees guest writes, so every userspace write to guest RAM must be marked here or migration loses it.
// Lock-free: marking may happen on vCPU threads while the migration thread collects.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

namespace roam::memory {

class DirtyBitmap {
 public:
  explicit DirtyBitmap(uint64_t pages);

  uint64_t pages() const { return pages_; }
  uint64_t words() const { return words_; }
  // Marks pages [first, first+count), clamped to the bitmap.
  void mark(uint64_t firstPage, uint64_t count);
  void markAll();
  // ORs the bitmap into out[0..words()); with clear=true, takes the bits (atomic exchange) so a
  // page marked concurrently is reported either now or next time, never lost.
  void collect(uint64_t* out, bool clear);

 private:
  uint64_t pages_;
  uint64_t words_;
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
};

}  // namespace roam::memory
