// KVM_EXIT_MMIO routing. No MMIO devices yet (LAPIC and IOAPIC are in-kernel), so every access
// is to nothing: reads return all-ones like an unclaimed bus, writes are dropped, both counted.
#pragma once
#include <atomic>
#include <cstdint>

namespace roam::devices {

class MmioBus {
 public:
  void read(uint64_t addr, uint8_t* data, uint32_t size);
  void write(uint64_t addr, const uint8_t* data, uint32_t size);
  uint64_t unclaimedAccesses() const { return unclaimed_.load(); }

 private:
  std::atomic<uint64_t> unclaimed_{0};
};

}  // namespace roam::devices
