#include "devices/post_code_port.h"

#include <cstring>

namespace roam::devices {

void PostCodePort::pioRead(uint16_t, uint8_t* data, uint32_t size) { std::memset(data, 0xFF, size); }

void PostCodePort::pioWrite(uint16_t, const uint8_t* data, uint32_t size) {
  if (size > 0) last_.store(data[0]);
}

}  // namespace roam::devices
