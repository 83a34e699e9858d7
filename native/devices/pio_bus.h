// Routes KVM_EXIT_IO accesses to devices by port range. Unclaimed ports behave like an empty ISA
// bus (reads 0xFF, writes dropped) and are counted, so a guest poking unexpected ports is visible.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "devices/pio_device.h"

namespace roam::devices {

class PioBus {
 public:
  // Registration happens before vCPUs start; dispatch is then read-only (no lock).
  // Throws std::invalid_argument for a range overlapping an existing one.
  void attach(uint16_t base, uint16_t length, PioDevice* device);
  void read(uint16_t port, uint8_t* data, uint32_t size);
  void write(uint16_t port, const uint8_t* data, uint32_t size);
  std::map<uint16_t, uint64_t> unknownPortCounts() const;

 private:
  struct Range {
    uint16_t base;
    uint16_t length;
    PioDevice* device;
  };
  const Range* find(uint16_t port) const;
  void countUnknown(uint16_t port);

  std::vector<Range> ranges_;
  mutable std::mutex unknownMutex_;
  std::map<uint16_t, uint64_t> unknown_;
};

}  // namespace roam::devices
