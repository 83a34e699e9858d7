// Multiboot v1 kernel loading (the probe guest; QEMU's -kernel boots the same file): finds the header
// in the first 8 KiB, loads ELF32/ELF64 PT_LOAD segments at p_paddr (or the a.out-kludge addresses),
// zeroes bss, and writes the multiboot information (MEM, CMDLINE, MMAP, and FRAMEBUFFER when the
// machine has one) and a flat boot GDT below 1 MiB. Pure memory work: the caller puts the returned entry state into vCPU 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "memory/guest_memory.h"

namespace roam::x86 {

constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;
constexpr uint64_t kBootGdtAddr = 0x8000;         // flat GDT for the 32-bit entry
constexpr uint64_t kMultibootInfoAddr = 0x9000;   // struct multiboot_info
constexpr uint64_t kMultibootMmapAddr = 0x9100;   // memory map entries
constexpr uint64_t kMultibootCmdlineAddr = 0x9400;
constexpr uint64_t kMultibootAreaEnd = 0xA000;    // [kBootGdtAddr, this) belongs to the loader
constexpr size_t kMaxCmdline = kMultibootAreaEnd - kMultibootCmdlineAddr - 1;

// A direct-RGB linear framebuffer to announce (multiboot_info offsets 88..115, flags bit 12),
// XRGB8888: red at bit 16, green at 8, blue at 0, 8 bits each.
struct MultibootFramebuffer {
  uint64_t addr = 0;
  uint32_t pitch = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t bpp = 0;
};

struct MultibootLoad {
  uint32_t entry = 0;
  uint32_t infoAddr = 0;
  uint64_t loadEnd = 0;  // first byte after the highest loaded segment (incl. bss)
};

// Throws std::runtime_error with a clear message: empty image, no multiboot header, not ELF (without
// the a.out kludge), unsupported required flags, segment outside RAM or over the loader's area,
// command line too long.
// `fb` may be null (no framebuffer: flags bit 12 stays clear).
MultibootLoad loadMultiboot(memory::GuestMemory& mem, const uint8_t* image, size_t len, const std::string& cmdline,
                            const MultibootFramebuffer* fb = nullptr);

}  // namespace roam::x86
