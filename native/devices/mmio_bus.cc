#include "devices/mmio_bus.h"

#include <cstring>

namespace roam::devices {

void MmioBus::read(uint64_t, uint8_t* data, uint32_t size) {
  std::memset(data, 0xFF, size > 8 ? 8 : size);
  ++unclaimed_;
}

void MmioBus::write(uint64_t, const uint8_t*, uint32_t) { ++unclaimed_; }

}  // namespace roam::devices
