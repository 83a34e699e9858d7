#include "arch/x86_64/entry_state.h"

namespace roam::x86 {

namespace {

constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Et = 1ull << 4, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr uint16_t kCodeSelector = 0x10, kDataSelector = 0x18;

kvm_segment flatSegment(uint16_t selector, uint8_t type, bool longCode) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xFFFFFFFF;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = longCode ? 0 : 1;  // L=1 requires D=0
  s.s = 1;
  s.l = longCode ? 1 : 0;
  s.g = 1;
  return s;
}

void setSegments(kvm_sregs& sregs, bool longMode, uint64_t gdtAddr) {
  sregs.cs = flatSegment(kCodeSelector, 0xB, longMode);  // execute/read, accessed
  kvm_segment data = flatSegment(kDataSelector, 0x3, false);  // read/write, accessed
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.gdt.base = gdtAddr;
  sregs.gdt.limit = 4 * 8 - 1;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;
}

}  // namespace

void multibootEntry(kvm_sregs& sregs, kvm_regs& regs, uint32_t entry, uint32_t infoAddr, uint64_t gdtAddr) {
  setSegments(sregs, false, gdtAddr);
  sregs.cr0 = (sregs.cr0 | kCr0Pe | kCr0Et) & ~kCr0Pg;
  sregs.cr4 = 0;
  sregs.efer = 0;
  regs = kvm_regs{};
  regs.rax = 0x2BADB002;
  regs.rbx = infoAddr;
  regs.rip = entry;
  regs.rflags = 0x2;
}

void longModeEntry(kvm_sregs& sregs, kvm_regs& regs, uint64_t entry, uint64_t zeroPage, uint64_t pageTable,
                   uint64_t gdtAddr, uint64_t stackTop) {
  setSegments(sregs, true, gdtAddr);
  sregs.cr3 = pageTable;
  sregs.cr4 = kCr4Pae;
  sregs.cr0 = sregs.cr0 | kCr0Pe | kCr0Et | kCr0Pg;
  sregs.efer = kEferLme | kEferLma;
  regs = kvm_regs{};
  regs.rip = entry;
  regs.rsi = zeroPage;
  regs.rsp = stackTop;
  regs.rbp = stackTop;
  regs.rflags = 0x2;
}

}  // namespace roam::x86
