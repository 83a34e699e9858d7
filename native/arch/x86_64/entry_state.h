// Register state a vCPU starts in, computed from what a loader prepared (no ioctls: the caller reads
// the vCPU's reset sregs, hands them here, and writes the result back through kvm/).
#pragma once
#include <linux/kvm.h>

#include <cstdint>

namespace roam::x86 {

// Multiboot v1 entry: 32-bit protected mode, paging off, flat CS 0x10 / data 0x18 over the boot GDT,
// EAX = 0x2BADB002, EBX = info, EFLAGS = 0x2.
void multibootEntry(kvm_sregs& sregs, kvm_regs& regs, uint32_t entry, uint32_t infoAddr, uint64_t gdtAddr);

// Linux 64-bit boot protocol entry: long mode with the loader's identity page tables and GDT
// (__BOOT_CS 0x10, __BOOT_DS 0x18), RSI = boot_params, interrupts off.
void longModeEntry(kvm_sregs& sregs, kvm_regs& regs, uint64_t entry, uint64_t zeroPage, uint64_t pageTable,
                   uint64_t gdtAddr, uint64_t stackTop);

}  // namespace roam::x86
