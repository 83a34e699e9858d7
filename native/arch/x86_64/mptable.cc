#include "arch/x86_64/mptable.h"

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace roam::x86 {

namespace {

constexpr uint8_t kEntryProcessor = 0, kEntryBus = 1, kEntryIoApic = 2, kEntryIoInterrupt = 3, kEntryLocalInterrupt = 4;
constexpr uint8_t kIntTypeInt = 0, kIntTypeNmi = 1, kIntTypeExtInt = 3;
constexpr uint8_t kCpuEnabled = 1, kCpuBootProcessor = 2;
constexpr uint8_t kLapicVersion = 0x14, kIoApicVersion = 0x11;
constexpr uint32_t kIsaIrqs = 16;

class Bytes {
 public:
  void u8(uint8_t v) { b_.push_back(v); }
  void u16(uint16_t v) { raw(&v, 2); }
  void u32(uint32_t v) { raw(&v, 4); }
  void text(const char* s, size_t n) {  // fixed-width, space padded
    size_t len = std::strlen(s);
    for (size_t i = 0; i < n; ++i) u8(i < len ? uint8_t(s[i]) : uint8_t(' '));
  }
  void zeros(size_t n) { b_.insert(b_.end(), n, 0); }
  void raw(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
  }
  std::vector<uint8_t>& data() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// Sets b[at] so that the bytes in [from, to) sum to 0 mod 256.
void checksum(std::vector<uint8_t>& b, size_t from, size_t to, size_t at) {
  uint8_t sum = 0;
  b[at] = 0;
  for (size_t i = from; i < to; ++i) sum = uint8_t(sum + b[i]);
  b[at] = uint8_t(-sum);
}

}  // namespace

void writeMpTable(memory::GuestMemory& mem, uint32_t vcpus, uint32_t cpuSignature, uint32_t cpuFeatures) {
  if (vcpus == 0 || vcpus > 254) throw std::invalid_argument("MP table: vCPU count " + std::to_string(vcpus) + " out of range");
  const uint8_t ioApicId = uint8_t(vcpus);  // after the LAPIC ids 0..vcpus-1
  const uint64_t configAddr = kMpTableAddr + 16;

  // Configuration table: header, then entries (processors, bus, IOAPIC, interrupts).
  Bytes entries;
  for (uint32_t i = 0; i < vcpus; ++i) {
    entries.u8(kEntryProcessor);
    entries.u8(uint8_t(i));
    entries.u8(kLapicVersion);
    entries.u8(kCpuEnabled | (i == 0 ? kCpuBootProcessor : 0));
    entries.u32(cpuSignature);
    entries.u32(cpuFeatures);
    entries.zeros(8);
  }
  entries.u8(kEntryBus);
  entries.u8(0);
  entries.text("ISA", 6);
  entries.u8(kEntryIoApic);
  entries.u8(ioApicId);
  entries.u8(kIoApicVersion);
  entries.u8(1);  // enabled
  entries.u32(kIoApicAddr);
  // ISA IRQ n arrives on IOAPIC pin n: KVM's default GSI routing for the in-kernel chips.
  for (uint32_t irq = 0; irq < kIsaIrqs; ++irq) {
    entries.u8(kEntryIoInterrupt);
    entries.u8(kIntTypeInt);
    entries.u16(0);  // conforming polarity and trigger (ISA: active high, edge)
    entries.u8(0);   // source bus: ISA
    entries.u8(uint8_t(irq));
    entries.u8(ioApicId);
    entries.u8(uint8_t(irq));
  }
  // LINT0 = ExtINT (the PIC), LINT1 = NMI, on every LAPIC (destination 0xFF).
  for (uint8_t type : {kIntTypeExtInt, kIntTypeNmi}) {
    entries.u8(kEntryLocalInterrupt);
    entries.u8(type);
    entries.u16(0);
    entries.u8(0);
    entries.u8(0);
    entries.u8(0xFF);
    entries.u8(type == kIntTypeExtInt ? 0 : 1);
  }
  uint16_t entryCount = uint16_t(vcpus + 1 + 1 + kIsaIrqs + 2);

  Bytes config;
  config.text("PCMP", 4);
  config.u16(uint16_t(44 + entries.data().size()));  // base table length
  config.u8(4);                                       // spec revision 1.4
  config.u8(0);                                       // checksum, below
  config.text("ROAM", 8);
  config.text("ROAM VM", 12);
  config.u32(0);                                      // no OEM table
  config.u16(0);
  config.u16(entryCount);
  config.u32(kLapicAddr);
  config.u16(0);                                      // no extended entries
  config.u8(0);
  config.u8(0);
  config.raw(entries.data().data(), entries.data().size());
  checksum(config.data(), 0, config.data().size(), 7);

  Bytes floating;
  floating.text("_MP_", 4);
  floating.u32(uint32_t(configAddr));
  floating.u8(1);   // length in 16-byte units
  floating.u8(4);   // spec revision 1.4
  floating.u8(0);   // checksum, below
  floating.zeros(5);  // feature bytes: 0 = a configuration table is present
  checksum(floating.data(), 0, 16, 10);

  if (configAddr + config.data().size() > 0x100000) throw std::logic_error("MP table overflows the BIOS area");
  mem.write(kMpTableAddr, floating.data().data(), floating.data().size());
  mem.write(configAddr, config.data().data(), config.data().size());
}

}  // namespace roam::x86
