// Intel MultiProcessor Specification 1.4 tables, so a guest OS can find every vCPU's LAPIC, the
// IOAPIC and how ISA IRQs reach it. Placed in the BIOS area (0xF0000), which the memory map reserves
// and where guests scan for the "_MP_" floating pointer.
#pragma once
#include <cstdint>

#include "memory/guest_memory.h"

namespace roam::x86 {

constexpr uint64_t kMpTableAddr = 0xF0000;
constexpr uint32_t kIoApicAddr = 0xFEC00000;
constexpr uint32_t kLapicAddr = 0xFEE00000;

// `cpuSignature` / `cpuFeatures`: CPUID leaf 1 EAX / EDX, reported per processor.
void writeMpTable(memory::GuestMemory& mem, uint32_t vcpus, uint32_t cpuSignature, uint32_t cpuFeatures);

}  // namespace roam::x86
