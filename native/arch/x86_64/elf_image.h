// Reads the loadable segments of an ELF32 or ELF64 x86 executable. Every offset and size from the
// file is checked against the file's length before anyone copies from it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace roam::x86 {

struct LoadSegment {
  uint64_t fileOffset;
  uint64_t fileSize;
  uint64_t physAddr;  // p_paddr: where a boot loader places it (paging is off)
  uint64_t memSize;   // >= fileSize; the rest is bss, zero-filled
};

struct ElfImage {
  bool is64 = false;
  uint64_t entry = 0;
  std::vector<LoadSegment> segments;
};

bool looksLikeElf(const uint8_t* data, size_t len);
// Throws std::runtime_error naming what is wrong (class, machine, truncated headers, segment bounds).
ElfImage parseElf(const uint8_t* data, size_t len);

}  // namespace roam::x86
