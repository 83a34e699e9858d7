#include "arch/x86_64/e820_layout.h"

namespace roam::x86 {

std::vector<E820Entry> e820Layout(const memory::GuestMemory& mem) {
  std::vector<E820Entry> map;
  uint64_t lowEnd = mem.slots().front().size;
  map.push_back({0, kConventionalEnd, kE820Ram});
  map.push_back({kConventionalEnd, kHighMemoryStart - kConventionalEnd, kE820Reserved});
  if (lowEnd > kHighMemoryStart) map.push_back({kHighMemoryStart, lowEnd - kHighMemoryStart, kE820Ram});
  map.push_back({memory::kLowRamLimit, memory::kHighRamBase - memory::kLowRamLimit, kE820Reserved});
  for (const auto& s : mem.slots())
    if (s.kind == memory::SlotKind::Ram && s.guestPhys >= memory::kHighRamBase) map.push_back({s.guestPhys, s.size, kE820Ram});
  return map;
}

}  // namespace roam::x86
