// Contract: Linux bzImage loader (64-bit boot protocol). Pure: writes into guest RAM given as a
// host pointer and returns what the core must put in the vCPU's registers. No ioctls here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace roam::x86 {

struct E820Entry { uint64_t addr, size; uint32_t type; };   // type 1 = RAM, 2 = reserved

struct BzImageResult {
  uint64_t zeroPageAddr = 0, cmdlineAddr = 0, kernelAddr = 0;
  uint64_t initrdAddr = 0, initrdSize = 0;
  uint64_t entry = 0;            // 64-bit entry: kernelAddr + 0x200
  uint64_t pageTableAddr = 0;    // identity map the loader built (CR3)
  uint64_t gdtAddr = 0;          // flat 64-bit GDT the loader built
  uint64_t stackTop = 0;
};

// `lowRam`/`lowRamSize`: the RAM slot at guest-physical 0. Throws std::runtime_error with a clear
// message for a file that is not a bzImage, a boot protocol older than 2.12, or data that does not fit.
BzImageResult loadBzImage(uint8_t* lowRam, uint64_t lowRamSize, const uint8_t* kernel, size_t kernelLen,
                          const std::string& cmdline, const uint8_t* initrd, size_t initrdLen,
                          const std::vector<E820Entry>& e820);

}  // namespace roam::x86
