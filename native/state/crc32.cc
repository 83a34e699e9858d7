#include "crc32.h"

#include <array>

namespace roam::state {
namespace {
// Table built once at first use; 1 KiB, byte-at-a-time is fast enough for a few MiB of state.
const std::array<uint32_t, 256>& table() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> out{};
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      out[i] = c;
    }
    return out;
  }();
  return t;
}
}  // namespace

uint32_t crc32(uint32_t crc, const uint8_t* data, size_t len) {
  const auto& t = table();
  crc = ~crc;
  for (size_t i = 0; i < len; i++) crc = t[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
}  // namespace roam::state
