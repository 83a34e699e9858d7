// Little-endian field access for the state format. Every multi-byte field in a state file is
// little-endian regardless of the host, so these never reinterpret_cast the buffer.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace roam::state {

inline uint16_t getLe16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t getLe32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t getLe64(const uint8_t* p) { return uint64_t(getLe32(p)) | (uint64_t(getLe32(p + 4)) << 32); }

inline void putLe16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}
inline void putLe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(uint8_t(v >> (8 * i)));
}
inline void putLe64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(uint8_t(v >> (8 * i)));
}
inline void patchLe32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) out[at + i] = uint8_t(v >> (8 * i));
}
inline void patchLe64(std::vector<uint8_t>& out, size_t at, uint64_t v) {
  for (int i = 0; i < 8; i++) out[at + i] = uint8_t(v >> (8 * i));
}

}  // namespace roam::state
