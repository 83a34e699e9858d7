#include "devices/pio_bus.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace roam::devices {

void PioBus::attach(uint16_t base, uint16_t length, PioDevice* device) {
  uint32_t end = uint32_t(base) + length;
  for (const auto& r : ranges_) {
    if (base < uint32_t(r.base) + r.length && r.base < end) {
      char msg[96];
      std::snprintf(msg, sizeof msg, "I/O ports 0x%x..0x%x overlap a registered device", unsigned(base), unsigned(end - 1));
      throw std::invalid_argument(msg);
    }
  }
  ranges_.push_back(Range{base, length, device});
}

const PioBus::Range* PioBus::find(uint16_t port) const {
  for (const auto& r : ranges_)
    if (port >= r.base && uint32_t(port) < uint32_t(r.base) + r.length) return &r;
  return nullptr;
}

void PioBus::countUnknown(uint16_t port) {
  std::lock_guard<std::mutex> lock(unknownMutex_);
  ++unknown_[port];
}

void PioBus::read(uint16_t port, uint8_t* data, uint32_t size) {
  if (const Range* r = find(port)) {
    r->device->pioRead(uint16_t(port - r->base), data, size);
    return;
  }
  std::memset(data, 0xFF, size);
  countUnknown(port);
}

void PioBus::write(uint16_t port, const uint8_t* data, uint32_t size) {
  if (const Range* r = find(port)) {
    r->device->pioWrite(uint16_t(port - r->base), data, size);
    return;
  }
  countUnknown(port);
}

std::map<uint16_t, uint64_t> PioBus::unknownPortCounts() const {
  std::lock_guard<std::mutex> lock(unknownMutex_);
  return unknown_;
}

}  // namespace roam::devices
