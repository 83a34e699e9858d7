// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum every state section carries.
#pragma once
#include <cstddef>
#include <cstdint>

namespace roam::state {
// Continue a CRC over more bytes; start with crc = 0.
uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len);
}  // namespace roam::state
