// The guest-physical memory map we present (multiboot mmap and bzImage e820 are the same table):
// conventional RAM below 639 KiB, the legacy BIOS area reserved, RAM from 1 MiB to the end of low
// RAM, the 3..4 GiB MMIO hole reserved (LAPIC, IOAPIC), then RAM above 4 GiB.
#pragma once
#include <vector>

#include "arch/x86_64/bzimage.h"
#include "memory/guest_memory.h"

namespace roam::x86 {

constexpr uint64_t kConventionalEnd = 0x9FC00;  // 639 KiB
constexpr uint64_t kHighMemoryStart = 0x100000; // 1 MiB
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

std::vector<E820Entry> e820Layout(const memory::GuestMemory& mem);

}  // namespace roam::x86
