// Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst): the loader copies the
// protected-mode kernel, fills the zero page (struct boot_params) from the file's setup header,
// places the command line and initrd, and builds the identity page tables and GDT that
// startup_64 expects. Every offset read from the file is checked against its length first.
#include "bzimage.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace roam::x86 {
namespace {

// Guest-physical layout of what the loader writes below 1 MiB (all in the first, conventional
// RAM range, below the EBDA at 0x9FC00).
constexpr uint64_t kGdtAddr = 0x500;
constexpr uint64_t kZeroPageAddr = 0x7000;
constexpr uint64_t kStackTop = 0x8FF0;        // boot stack: 0x8000..0x8FF0, until startup_64 sets its own
constexpr uint64_t kPml4Addr = 0x9000;
constexpr uint64_t kPdptAddr = 0xA000;
constexpr uint64_t kPdAddr = 0xB000;          // 4 page directories: 0xB000..0xEFFF
constexpr uint64_t kIdentityMapBytes = 4ull << 30;
constexpr uint64_t kCmdlineAddr = 0x20000;
constexpr uint64_t kCmdlineRoom = 0x10000;    // 0x20000..0x2FFFF, NUL included
constexpr uint64_t kMinKernelAddr = 0x100000;
constexpr uint64_t kPage = 4096;

// Setup header fields (offsets in the file and in boot_params alike).
constexpr size_t kSetupSects = 0x1F1, kSyssize = 0x1F4, kVidMode = 0x1FA, kBootFlag = 0x1FE, kJump = 0x200,
                 kHeaderMagic = 0x202, kVersion = 0x206, kTypeOfLoader = 0x210, kLoadflags = 0x211,
                 kCode32Start = 0x214, kRamdiskImage = 0x218, kRamdiskSize = 0x21C, kHeapEndPtr = 0x224,
                 kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22C, kKernelAlignment = 0x230, kRelocatable = 0x234,
                 kXloadflags = 0x236, kCmdlineSize = 0x238, kPrefAddress = 0x258, kInitSize = 0x260;
constexpr size_t kSetupHeaderEndMax = 0x290;  // boot_params.edd_mbr_sig_buffer: the header never reaches it
// boot_params fields outside the setup header.
constexpr size_t kExtRamdiskImage = 0x0C0, kExtRamdiskSize = 0x0C4, kExtCmdLinePtr = 0x0C8, kE820Entries = 0x1E8,
                 kE820Table = 0x2D0;
constexpr size_t kE820MaxEntries = 128;
constexpr size_t kZeroPageBytes = 4096;

constexpr uint16_t kMinProtocol = 0x020C;     // 2.12: xloadflags and the 64-bit entry
constexpr uint8_t kLoadedHigh = 0x01, kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x01;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return uint32_t(rd16(p)) | (uint32_t(rd16(p + 2)) << 16); }
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | (uint64_t(rd32(p + 4)) << 32); }
void wr16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
void wr32(uint8_t* p, uint32_t v) { wr16(p, uint16_t(v)); wr16(p + 2, uint16_t(v >> 16)); }
void wr64(uint8_t* p, uint64_t v) { wr32(p, uint32_t(v)); wr32(p + 4, uint32_t(v >> 32)); }

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// What the loader needs from the file's setup header, validated.
struct SetupHeader {
  size_t setupBytes = 0;      // real-mode part: (setup_sects + 1) * 512
  size_t headerEnd = 0;       // end of the setup header (copied into the zero page)
  uint16_t version = 0;
  uint32_t initrdAddrMax = 0;
  uint64_t alignment = 0;
  bool relocatable = false;
  uint32_t cmdlineSize = 0;
  uint64_t prefAddress = 0;
  uint64_t initSize = 0;
};

SetupHeader parseHeader(const uint8_t* k, size_t len) {
  // 1 KiB covers the boot sector and every setup-header field up to protocol 2.15.
  if (k == nullptr || len < 1024)
    fail("not a Linux bzImage: the file is " + std::to_string(len) + " bytes, smaller than a boot sector and setup header");
  if (rd16(k + kBootFlag) != 0xAA55)
    fail("not a Linux bzImage: no boot signature 0xAA55 at offset 0x1FE (give arch/x86/boot/bzImage, not vmlinux or "
         "a compressed archive)");
  if (std::memcmp(k + kHeaderMagic, "HdrS", 4) != 0)
    fail("not a Linux bzImage: no \"HdrS\" setup header at offset 0x202 (a pre-2.00 or non-Linux boot image)");
  SetupHeader h;
  h.version = rd16(k + kVersion);
  if (h.version < kMinProtocol)
    fail("the kernel speaks boot protocol " + std::to_string(h.version >> 8) + "." + std::to_string(h.version & 0xFF) +
         ", too old: roam needs 2.12 or later (Linux 3.8+) for the 64-bit entry");
  if (!(k[kLoadflags] & kLoadedHigh))
    fail("the kernel is a zImage (LOADED_HIGH not set): roam loads only bzImages");
  if (!(rd16(k + kXloadflags) & kXlfKernel64))
    fail("the kernel has no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags): build an x86_64 kernel");
  unsigned sects = k[kSetupSects] ? k[kSetupSects] : 4;
  h.setupBytes = (size_t(sects) + 1) * 512;
  if (h.setupBytes >= len)
    fail("the bzImage is truncated: its setup part claims " + std::to_string(h.setupBytes) + " bytes but the file has " +
         std::to_string(len));
  uint64_t sysBytes = uint64_t(rd32(k + kSyssize)) * 16;
  if (sysBytes > len - h.setupBytes)
    fail("the bzImage is truncated: its header says " + std::to_string(sysBytes) +
         " bytes of protected-mode kernel but the file has " + std::to_string(len - h.setupBytes) + " after setup");
  h.headerEnd = std::min<size_t>(0x202 + k[kJump + 1], kSetupHeaderEndMax);
  h.initrdAddrMax = rd32(k + kInitrdAddrMax);
  h.alignment = rd32(k + kKernelAlignment);
  h.relocatable = k[kRelocatable] != 0;
  h.cmdlineSize = rd32(k + kCmdlineSize);
  h.prefAddress = rd64(k + kPrefAddress);
  h.initSize = rd32(k + kInitSize);
  if (h.relocatable && (h.alignment == 0 || (h.alignment & (h.alignment - 1)) != 0 || h.alignment > (1u << 30)))
    fail("the bzImage header is malformed: kernel_alignment " + hex(h.alignment) + " is not a power of two up to 1 GiB");
  return h;
}

// Where the protected-mode kernel goes: its preferred address if RAM holds it there, else (if
// relocatable) the first aligned address from 1 MiB.
uint64_t chooseKernelAddr(const SetupHeader& h, uint64_t need, uint64_t ramSize) {
  auto fits = [&](uint64_t at) { return at >= kMinKernelAddr && at <= ramSize && need <= ramSize - at; };
  if (fits(h.prefAddress)) return h.prefAddress;
  if (h.relocatable) {
    uint64_t at = alignUp(kMinKernelAddr, h.alignment);
    if (fits(at)) return at;
  }
  uint64_t at = h.relocatable ? alignUp(kMinKernelAddr, h.alignment) : h.prefAddress;
  fail("guest RAM of " + mib(ramSize) + " is too small for this kernel: it needs " + mib(need) + " from " + hex(at) +
       " (give the VM more memory)");
}

void buildPageTables(uint8_t* ram) {
  std::memset(ram + kPml4Addr, 0, kPdAddr + 4 * kPage - kPml4Addr);
  wr64(ram + kPml4Addr, kPdptAddr | 0x3);   // present, writable
  for (uint64_t gib = 0; gib < kIdentityMapBytes >> 30; gib++) {
    uint64_t pd = kPdAddr + gib * kPage;
    wr64(ram + kPdptAddr + gib * 8, pd | 0x3);
    for (uint64_t i = 0; i < 512; i++) {
      uint64_t phys = (gib << 30) + (i << 21);
      wr64(ram + pd + i * 8, phys | 0x83);   // present, writable, 2 MiB page
    }
  }
}

void buildGdt(uint8_t* ram) {
  // Null, null, __BOOT_CS (0x10: 64-bit code), __BOOT_DS (0x18: flat data), as startup_64 expects.
  const uint64_t gdt[4] = {0, 0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
  for (int i = 0; i < 4; i++) wr64(ram + kGdtAddr + i * 8, gdt[i]);
}

}  // namespace

BzImageResult loadBzImage(uint8_t* lowRam, uint64_t lowRamSize, const uint8_t* kernel, size_t kernelLen,
                          const std::string& cmdline, const uint8_t* initrd, size_t initrdLen,
                          const std::vector<E820Entry>& e820) {
  // Everything is checked before the first byte of guest RAM is written.
  const SetupHeader h = parseHeader(kernel, kernelLen);
  if (lowRam == nullptr || lowRamSize < kMinKernelAddr)
    fail("guest RAM of " + mib(lowRamSize) + " is too small for a Linux kernel");

  uint64_t maxCmdline = std::min<uint64_t>(h.cmdlineSize, kCmdlineRoom - 1);
  if (cmdline.size() > maxCmdline)
    fail("the kernel command line is " + std::to_string(cmdline.size()) + " bytes; this kernel accepts at most " +
         std::to_string(maxCmdline));
  if (cmdline.find('\0') != std::string::npos) fail("the kernel command line contains a NUL byte");
  if (e820.empty() || e820.size() > kE820MaxEntries)
    fail("the memory map has " + std::to_string(e820.size()) + " entries; the zero page holds 1.." +
         std::to_string(kE820MaxEntries));
  if (initrd == nullptr && initrdLen != 0) fail("initrd length given without initrd data");

  const uint8_t* payload = kernel + h.setupBytes;
  const size_t payloadLen = kernelLen - h.setupBytes;
  // The kernel decompresses in place and needs init_size bytes from its load address.
  const uint64_t need = alignUp(std::max<uint64_t>(h.initSize, payloadLen), kPage);
  const uint64_t kernelAddr = chooseKernelAddr(h, need, lowRamSize);
  const uint64_t kernelEnd = kernelAddr + need;

  uint64_t initrdAddr = 0;
  if (initrdLen) {
    // As high as the kernel allows, page aligned, above the kernel's working area.
    uint64_t top = std::min<uint64_t>(lowRamSize, uint64_t(h.initrdAddrMax) + 1);
    if (initrdLen > top || ((top - initrdLen) & ~(kPage - 1)) < kernelEnd) {
      uint64_t room = top > kernelEnd ? top - kernelEnd : 0;
      fail("the initrd (" + mib(initrdLen) + ") does not fit: " + mib(room) + " are free between the kernel's end (" +
           hex(kernelEnd) + ") and the highest address it may use (" + hex(top) + "); give the VM more memory or use a "
           "smaller initrd");
    }
    initrdAddr = (top - initrdLen) & ~(kPage - 1);
  }

  // Kernel, command line, initrd.
  std::memcpy(lowRam + kernelAddr, payload, payloadLen);
  std::memset(lowRam + kCmdlineAddr, 0, maxCmdline + 1);
  std::memcpy(lowRam + kCmdlineAddr, cmdline.data(), cmdline.size());
  if (initrdLen) std::memcpy(lowRam + initrdAddr, initrd, initrdLen);

  // Zero page: the file's setup header, then what this loader decided.
  uint8_t* zp = lowRam + kZeroPageAddr;
  std::memset(zp, 0, kZeroPageBytes);
  std::memcpy(zp + kSetupSects, kernel + kSetupSects, h.headerEnd - kSetupSects);
  wr16(zp + kVidMode, 0xFFFF);   // "normal" text mode
  zp[kTypeOfLoader] = 0xFF;      // undefined loader
  zp[kLoadflags] |= kCanUseHeap;
  wr16(zp + kHeapEndPtr, 0xFE00);
  wr32(zp + kCode32Start, uint32_t(kernelAddr));
  wr32(zp + kCmdLinePtr, uint32_t(kCmdlineAddr));
  wr32(zp + kExtCmdLinePtr, uint32_t(kCmdlineAddr >> 32));
  wr32(zp + kRamdiskImage, uint32_t(initrdAddr));
  wr32(zp + kExtRamdiskImage, uint32_t(initrdAddr >> 32));
  wr32(zp + kRamdiskSize, uint32_t(initrdLen));
  wr32(zp + kExtRamdiskSize, uint32_t(uint64_t(initrdLen) >> 32));
  zp[kE820Entries] = uint8_t(e820.size());
  for (size_t i = 0; i < e820.size(); i++) {
    uint8_t* e = zp + kE820Table + i * 20;
    wr64(e, e820[i].addr);
    wr64(e + 8, e820[i].size);
    wr32(e + 16, e820[i].type);
  }

  buildPageTables(lowRam);
  buildGdt(lowRam);
  std::memset(lowRam + (kStackTop & ~(kPage - 1)), 0, kPage);

  BzImageResult r;
  r.zeroPageAddr = kZeroPageAddr;
  r.cmdlineAddr = kCmdlineAddr;
  r.kernelAddr = kernelAddr;
  r.initrdAddr = initrdAddr;
  r.initrdSize = initrdLen;
  r.entry = kernelAddr + 0x200;   // startup_64
  r.pageTableAddr = kPml4Addr;
  r.gdtAddr = kGdtAddr;
  r.stackTop = kStackTop;
  return r;
}

}  // namespace roam::x86
