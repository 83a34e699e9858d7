#include "arch/x86_64/multiboot.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "arch/x86_64/e820_layout.h"
#include "arch/x86_64/elf_image.h"

namespace roam::x86 {

namespace {

constexpr size_t kHeaderSearch = 8192;
constexpr uint32_t kFlagAoutKludge = 1u << 16;
constexpr uint32_t kUnderstoodRequired = 0x7;  // page-align modules, memory info, video mode (our fb, if any, is fixed)
constexpr uint32_t kInfoMem = 1u << 0;
constexpr uint32_t kInfoCmdline = 1u << 2;
constexpr uint32_t kInfoMmap = 1u << 6;
constexpr uint32_t kInfoFramebuffer = 1u << 12;
constexpr uint8_t kFramebufferTypeRgb = 1;

uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Offset of a valid header (magic, flags, checksum summing to 0), or -1.
long findHeader(const uint8_t* image, size_t len) {
  size_t limit = len < kHeaderSearch ? len : kHeaderSearch;
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t magic = le32(image + off), flags = le32(image + off + 4), sum = le32(image + off + 8);
    if (magic == kMultibootHeaderMagic && uint32_t(magic + flags + sum) == 0) return static_cast<long>(off);
  }
  return -1;
}

std::vector<LoadSegment> aoutSegments(const uint8_t* image, size_t len, size_t hdr, uint32_t& entry) {
  if (hdr + 32 > len) throw std::runtime_error("multiboot header with the a.out flag (16) is truncated");
  uint32_t headerAddr = le32(image + hdr + 12), loadAddr = le32(image + hdr + 16);
  uint32_t loadEndAddr = le32(image + hdr + 20), bssEndAddr = le32(image + hdr + 24);
  entry = le32(image + hdr + 28);
  if (loadAddr > headerAddr || headerAddr - loadAddr > hdr) {
    throw std::runtime_error("multiboot a.out addresses are inconsistent: load_addr " + hex(loadAddr) +
                             " does not precede header_addr " + hex(headerAddr) + " within the file");
  }
  uint64_t fileStart = hdr - (headerAddr - loadAddr);
  uint64_t fileSize = loadEndAddr ? uint64_t(loadEndAddr) - loadAddr : len - fileStart;
  if (loadEndAddr && loadEndAddr < loadAddr) throw std::runtime_error("multiboot load_end_addr is below load_addr");
  if (fileStart + fileSize > len) throw std::runtime_error("multiboot a.out load range runs past the end of the file");
  uint64_t memSize = fileSize;
  if (bssEndAddr) {
    if (bssEndAddr < loadAddr + fileSize) throw std::runtime_error("multiboot bss_end_addr is below the loaded image");
    memSize = uint64_t(bssEndAddr) - loadAddr;
  }
  return {LoadSegment{fileStart, fileSize, loadAddr, memSize}};
}

void writeBootGdt(memory::GuestMemory& mem) {
  // null, null, 0x10 = flat 32-bit code, 0x18 = flat data: the selectors the entry state uses.
  const uint64_t gdt[4] = {0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
  mem.write(kBootGdtAddr, gdt, sizeof gdt);
}

void writeInfo(memory::GuestMemory& mem, const std::string& cmdline, const MultibootFramebuffer* fb) {
  // Memory map entries as multiboot lays them out: size (of the rest, 20), base, length, type.
  std::vector<uint8_t> mmap;
  for (const auto& e : e820Layout(mem)) {
    uint8_t entry[24];
    uint32_t size = 20;
    std::memcpy(entry, &size, 4);
    std::memcpy(entry + 4, &e.addr, 8);
    std::memcpy(entry + 12, &e.size, 8);
    std::memcpy(entry + 20, &e.type, 4);
    mmap.insert(mmap.end(), entry, entry + 24);
  }
  if (kMultibootMmapAddr + mmap.size() > kMultibootCmdlineAddr) throw std::logic_error("multiboot memory map overflows its area");
  mem.write(kMultibootMmapAddr, mmap.data(), mmap.size());
  mem.fill(kMultibootCmdlineAddr, 0, cmdline.size() + 1);
  mem.write(kMultibootCmdlineAddr, cmdline.data(), cmdline.size());

  uint8_t info[0x78] = {};
  uint64_t lowEnd = mem.slots().front().size;
  uint32_t flags = kInfoMem | kInfoCmdline | kInfoMmap;
  uint32_t memLower = 639;
  uint32_t memUpper = uint32_t((lowEnd - kHighMemoryStart) / 1024);  // KiB from 1 MiB to the first hole
  uint32_t cmdAddr = kMultibootCmdlineAddr, mmapLen = uint32_t(mmap.size()), mmapAddr = kMultibootMmapAddr;
  std::memcpy(info + 0, &flags, 4);
  std::memcpy(info + 4, &memLower, 4);
  std::memcpy(info + 8, &memUpper, 4);
  std::memcpy(info + 16, &cmdAddr, 4);
  std::memcpy(info + 44, &mmapLen, 4);
  std::memcpy(info + 48, &mmapAddr, 4);
  if (fb) {
    flags |= kInfoFramebuffer;
    std::memcpy(info + 0, &flags, 4);
    std::memcpy(info + 88, &fb->addr, 8);
    std::memcpy(info + 96, &fb->pitch, 4);
    std::memcpy(info + 100, &fb->width, 4);
    std::memcpy(info + 104, &fb->height, 4);
    info[108] = fb->bpp;
    info[109] = kFramebufferTypeRgb;
    const uint8_t colorInfo[6] = {16, 8, 8, 8, 0, 8};  // red pos/size, green pos/size, blue pos/size
    std::memcpy(info + 110, colorInfo, sizeof colorInfo);
  }
  mem.write(kMultibootInfoAddr, info, sizeof info);
}

}  // namespace

MultibootLoad loadMultiboot(memory::GuestMemory& mem, const uint8_t* image, size_t len, const std::string& cmdline,
                            const MultibootFramebuffer* fb) {
  if (len == 0) throw std::runtime_error("kernel image is empty (0 bytes)");
  if (cmdline.size() > kMaxCmdline) {
    throw std::runtime_error("command line is too long (" + std::to_string(cmdline.size()) + " bytes, at most " +
                             std::to_string(kMaxCmdline) + ")");
  }
  if (cmdline.find('\0') != std::string::npos) throw std::runtime_error("command line contains a NUL byte");
  if (mem.slots().front().size < 2 * kHighMemoryStart) throw std::runtime_error("multiboot needs at least 2 MiB of RAM");

  long hdr = findHeader(image, len);
  bool elf = looksLikeElf(image, len);
  if (hdr < 0) {
    throw std::runtime_error(elf ? "ELF file has no multiboot v1 header (magic 0x1BADB002 with a valid checksum) in its first 8 KiB"
                                 : "not a multiboot kernel: not an ELF file and no multiboot v1 header in the first 8 KiB");
  }
  uint32_t flags = le32(image + hdr + 4);
  uint32_t unknownRequired = flags & 0xFFFF & ~kUnderstoodRequired;
  if (unknownRequired) throw std::runtime_error("multiboot header requires features this loader lacks (flags " + hex(unknownRequired) + ")");

  std::vector<LoadSegment> segments;
  uint64_t entry = 0;
  if (flags & kFlagAoutKludge) {
    uint32_t e = 0;
    segments = aoutSegments(image, len, size_t(hdr), e);
    entry = e;
  } else {
    if (!elf) throw std::runtime_error("not an ELF file, and the multiboot header has no a.out load addresses (flag 16)");
    ElfImage parsed = parseElf(image, len);
    segments = parsed.segments;
    entry = parsed.entry;
  }

  // Validate every segment before writing any, so a bad image leaves RAM untouched.
  MultibootLoad result;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    if (s.physAddr + s.memSize < s.physAddr || !mem.translate(s.physAddr, s.memSize)) {
      throw std::runtime_error("segment " + std::to_string(i) + " [" + hex(s.physAddr) + ", " + hex(s.physAddr + s.memSize) +
                               ") lies outside guest RAM (" + std::to_string(mem.size() >> 20) + " MiB)");
    }
    if (s.physAddr < kMultibootAreaEnd && s.physAddr + s.memSize > kBootGdtAddr) {
      throw std::runtime_error("segment " + std::to_string(i) + " at " + hex(s.physAddr) +
                               " overlaps the boot loader's area [0x8000, 0xa000)");
    }
    if (s.physAddr + s.memSize > result.loadEnd) result.loadEnd = s.physAddr + s.memSize;
  }
  if (entry >= (1ull << 32)) throw std::runtime_error("multiboot entry point " + hex(entry) + " is above 4 GiB");
  if (!mem.translate(entry, 1)) throw std::runtime_error("multiboot entry point " + hex(entry) + " is not in guest RAM");

  for (const auto& s : segments) {
    mem.write(s.physAddr, image + s.fileOffset, s.fileSize);
    if (s.memSize > s.fileSize) mem.fill(s.physAddr + s.fileSize, 0, s.memSize - s.fileSize);
  }
  writeBootGdt(mem);
  writeInfo(mem, cmdline, fb);
  result.entry = uint32_t(entry);
  result.infoAddr = uint32_t(kMultibootInfoAddr);
  return result;
}

}  // namespace roam::x86
