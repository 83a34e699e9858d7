// What a port-I/O device implements. Accesses arrive on vCPU threads, possibly several at once,
// so a device guards its own registers.
#pragma once
#include <cstdint>

namespace roam::devices {

class PioDevice {
 public:
  virtual ~PioDevice() = default;
  // `offset` is relative to the device's base port; `size` is 1, 2 or 4.
  virtual void pioRead(uint16_t offset, uint8_t* data, uint32_t size) = 0;
  virtual void pioWrite(uint16_t offset, const uint8_t* data, uint32_t size) = 0;
};

}  // namespace roam::devices
