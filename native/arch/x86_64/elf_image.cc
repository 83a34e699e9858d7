#include "arch/x86_64/elf_image.h"

#include <elf.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace roam::x86 {

namespace {

constexpr uint32_t kMaxProgramHeaders = 512;

template <typename Ehdr, typename Phdr>
ElfImage parse(const uint8_t* data, size_t len, bool is64) {
  if (len < sizeof(Ehdr)) throw std::runtime_error("ELF file is truncated: shorter than its header");
  Ehdr eh;
  std::memcpy(&eh, data, sizeof eh);
  if (eh.e_machine != EM_386 && eh.e_machine != EM_X86_64) {
    throw std::runtime_error("ELF machine " + std::to_string(eh.e_machine) + " is not x86 (expected EM_386 or EM_X86_64)");
  }
  if (eh.e_phnum == 0) throw std::runtime_error("ELF file has no program headers: nothing to load");
  if (eh.e_phnum > kMaxProgramHeaders) throw std::runtime_error("ELF file has too many program headers");
  if (eh.e_phentsize < sizeof(Phdr)) throw std::runtime_error("ELF program header size is too small");
  uint64_t tableEnd = uint64_t(eh.e_phoff) + uint64_t(eh.e_phnum) * eh.e_phentsize;
  if (eh.e_phoff >= len || tableEnd > len) throw std::runtime_error("ELF program header table lies beyond the end of the file");

  ElfImage image;
  image.is64 = is64;
  image.entry = eh.e_entry;
  for (uint32_t i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    std::memcpy(&ph, data + eh.e_phoff + uint64_t(i) * eh.e_phentsize, sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz) {
      throw std::runtime_error("ELF segment " + std::to_string(i) + " has a file size larger than its memory size");
    }
    if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
      throw std::runtime_error("ELF segment " + std::to_string(i) + " lies beyond the end of the file (truncated image?)");
    }
    image.segments.push_back(LoadSegment{ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz});
  }
  if (image.segments.empty()) throw std::runtime_error("ELF file has no loadable (PT_LOAD) segments");
  return image;
}

}  // namespace

bool looksLikeElf(const uint8_t* data, size_t len) {
  return len >= 4 && data[0] == ELFMAG0 && data[1] == ELFMAG1 && data[2] == ELFMAG2 && data[3] == ELFMAG3;
}

ElfImage parseElf(const uint8_t* data, size_t len) {
  if (!looksLikeElf(data, len)) throw std::runtime_error("not an ELF file (no \\x7fELF magic)");
  if (len < EI_NIDENT) throw std::runtime_error("ELF file is truncated");
  if (data[EI_DATA] != ELFDATA2LSB) throw std::runtime_error("ELF file is not little-endian");
  if (data[EI_CLASS] == ELFCLASS32) return parse<Elf32_Ehdr, Elf32_Phdr>(data, len, false);
  if (data[EI_CLASS] == ELFCLASS64) return parse<Elf64_Ehdr, Elf64_Phdr>(data, len, true);
  throw std::runtime_error("ELF class " + std::to_string(data[EI_CLASS]) + " is neither ELF32 nor ELF64");
}

}  // namespace roam::x86
