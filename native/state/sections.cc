#include "sections.h"

#include <linux/kvm.h>

#include <stdexcept>

#include "byte_order.h"

namespace roam::state {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// Raw KVM structs are stored as the x86-64 Linux ABI lays them out (little-endian, fixed size,
// stable across kernels). These asserts pin the sizes FORMAT.md documents.
static_assert(sizeof(kvm_regs) == 144);
static_assert(sizeof(kvm_sregs) == 312);
static_assert(sizeof(kvm_sregs2) == 320);
static_assert(sizeof(kvm_fpu) == 416);
static_assert(sizeof(kvm_xcrs) == 392);
static_assert(sizeof(kvm_lapic_state) == 1024);
static_assert(sizeof(kvm_debugregs) == 128);
static_assert(sizeof(kvm_vcpu_events) == 64);
static_assert(sizeof(kvm_pic_state) == 16);
static_assert(sizeof(kvm_ioapic_state) == 216);
static_assert(sizeof(kvm_pit_state2) == 112);
static_assert(sizeof(kvm_clock_data) == 48);

// The newest version of each section this roam reads (all 1 in format 1.0).
constexpr uint32_t kKnownVersion = 1;

struct VcpuPart {
  const char* part;
  bool (*sizeOk)(const SectionView&);
  const char* expect;   // for the error message
};

template <size_t N>
bool exactly(const SectionView& s) { return s.length == N; }

bool cpuidSize(const SectionView& s) {
  if (s.length < 4) return false;
  uint32_t n = getLe32(s.payload);
  return n >= 1 && n <= kMaxCpuidEntries && s.length == 4 + uint64_t(n) * kCpuidEntryBytes;
}
bool msrsSize(const SectionView& s) {
  if (s.length < 4) return false;
  uint32_t n = getLe32(s.payload);
  return n <= kMaxMsrs && s.length == 4 + uint64_t(n) * kMsrEntryBytes;
}
bool xsaveSize(const SectionView& s) {
  return s.length >= 4096 && s.length <= kMaxXsaveBytes && s.length % 4 == 0;
}

const VcpuPart kVcpuParts[] = {
    {names::kCpuid, cpuidSize, "4 + 28 x count bytes, 1..512 entries"},
    {names::kTscKhz, exactly<4>, "4 bytes"},
    {names::kMpState, exactly<4>, "4 bytes"},
    {names::kRegs, exactly<sizeof(kvm_regs)>, "144 bytes"},
    {names::kSregs, exactly<sizeof(kvm_sregs)>, "312 bytes"},
    {names::kSregs2, exactly<sizeof(kvm_sregs2)>, "320 bytes"},
    {names::kXsave, xsaveSize, "4096..1048576 bytes, a multiple of 4"},
    {names::kFpu, exactly<sizeof(kvm_fpu)>, "416 bytes"},
    {names::kXcrs, exactly<sizeof(kvm_xcrs)>, "392 bytes"},
    {names::kLapic, exactly<sizeof(kvm_lapic_state)>, "1024 bytes"},
    {names::kMsrs, msrsSize, "4 + 12 x count bytes, at most 4096 entries"},
    {names::kDebugregs, exactly<sizeof(kvm_debugregs)>, "128 bytes"},
    {names::kEvents, exactly<sizeof(kvm_vcpu_events)>, "64 bytes"},
};

struct VmPart {
  const char* name;
  uint64_t size;
  const char* expect;
};
const VmPart kVmParts[] = {
    {names::kPicMaster, sizeof(kvm_pic_state), "16 bytes"}, {names::kPicSlave, sizeof(kvm_pic_state), "16 bytes"},
    {names::kIoapic, sizeof(kvm_ioapic_state), "216 bytes"}, {names::kPit2, sizeof(kvm_pit_state2), "112 bytes"},
    {names::kClock, sizeof(kvm_clock_data), "48 bytes"},
};

// "vcpu.<n>.<part>" → n and part; false when the name does not have that shape.
bool splitVcpuName(const std::string& name, uint32_t& index, std::string& part) {
  if (name.rfind("vcpu.", 0) != 0) return false;
  size_t dot = name.find('.', 5);
  if (dot == std::string::npos || dot == 5 || dot - 5 > 5) return false;
  std::string num = name.substr(5, dot - 5);
  if (num.size() > 1 && num[0] == '0') return false;
  uint32_t v = 0;
  for (char c : num) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint32_t(c - '0');
  }
  index = v;
  part = name.substr(dot + 1);
  return true;
}

std::string versionText(const SectionView& s) { return "version " + std::to_string(s.version); }

}  // namespace

std::string vcpuSection(uint32_t vcpu, const char* part) { return "vcpu." + std::to_string(vcpu) + "." + part; }

const SectionView* CheckedState::find(const std::string& name) const {
  for (const auto* s : known)
    if (s->name == name) return s;
  return nullptr;
}

const SectionView& CheckedState::need(const std::string& name) const {
  const SectionView* s = find(name);
  if (!s) fail("state has no section '" + name + "', which restoring needs: the file is incomplete");
  return *s;
}

CheckedState checkState(const uint8_t* data, size_t len) {
  CheckedState out;
  out.parsed = parseState(data, len);

  // The machine section comes first: it says how many vCPUs the per-vCPU names may refer to.
  const SectionView* machine = nullptr;
  for (const auto& s : out.parsed.sections)
    if (s.name == names::kMachine) machine = &s;
  if (!machine) fail("state has no 'machine' section: the file is incomplete");
  if (machine->version > kKnownVersion)
    fail("state section 'machine' is " + versionText(*machine) + ", newer than this roam reads (" +
         std::to_string(kKnownVersion) + "): upgrade roam on this machine");
  if (machine->length != 12)
    fail("state section 'machine' has " + std::to_string(machine->length) + " bytes, expected 12");
  out.desc.memBytes = getLe64(machine->payload);
  out.desc.vcpus = getLe32(machine->payload + 8);
  if (out.desc.vcpus == 0 || out.desc.vcpus > kMaxVcpus)
    fail("state section 'machine' says " + std::to_string(out.desc.vcpus) + " vCPUs; expected 1.." +
         std::to_string(kMaxVcpus));
  if (out.desc.memBytes == 0 || out.desc.memBytes % 4096 != 0)
    fail("state section 'machine' says " + std::to_string(out.desc.memBytes) +
         " bytes of RAM; expected a non-zero multiple of 4096");

  for (const auto& s : out.parsed.sections) {
    // Classify: known (check size), unknown optional (skip), unknown mandatory (refuse).
    bool known = false;
    bool sizeOk = true;
    const char* expect = "";
    uint32_t index = 0;
    std::string part;
    if (s.name == names::kMachine || s.name.rfind(names::kDevicePrefix, 0) == 0) {
      known = true;   // device blobs: the version is the device's own, which the core checks
    } else if (splitVcpuName(s.name, index, part)) {
      for (const auto& p : kVcpuParts)
        if (part == p.part) {
          known = true;
          sizeOk = p.sizeOk(s);
          expect = p.expect;
        }
      if (known && index >= out.desc.vcpus)
        fail("state section '" + s.name + "' is for vCPU " + std::to_string(index) + " but the machine has " +
             std::to_string(out.desc.vcpus) + " vCPUs: the file is malformed");
    } else {
      for (const auto& p : kVmParts)
        if (s.name == p.name) {
          known = true;
          sizeOk = s.length == p.size;
          expect = p.expect;
        }
    }
    bool newer = known && s.name.rfind(names::kDevicePrefix, 0) != 0 && s.version > kKnownVersion;
    if (!known || newer) {
      if (s.optional()) continue;   // a later roam's extra: safe to ignore by its own declaration
      if (newer)
        fail("state section '" + s.name + "' is " + versionText(s) + ", newer than this roam reads (" +
             std::to_string(kKnownVersion) + "): upgrade roam on this machine");
      fail("state section '" + s.name + "' (" + versionText(s) +
           ") is mandatory but unknown to this roam: the state comes from a newer roam; upgrade roam on this "
           "machine");
    }
    if (s.version == 0) fail("state section '" + s.name + "' has version 0, which no roam writes: the file is malformed");
    if (!sizeOk)
      fail("state section '" + s.name + "' has " + std::to_string(s.length) + " bytes, expected " + expect +
           ": the file is malformed");
    out.known.push_back(&s);
  }

  // Everything restore needs must be there.
  for (uint32_t v = 0; v < out.desc.vcpus; v++) {
    for (const char* part : {names::kCpuid, names::kMpState, names::kRegs, names::kLapic, names::kMsrs,
                             names::kDebugregs, names::kEvents})
      out.need(vcpuSection(v, part));
    if (!out.find(vcpuSection(v, names::kSregs)) && !out.find(vcpuSection(v, names::kSregs2)))
      fail("state has neither 'vcpu." + std::to_string(v) + ".sregs' nor '.sregs2': the file is incomplete");
    if (!out.find(vcpuSection(v, names::kXsave)) && !out.find(vcpuSection(v, names::kFpu)))
      fail("state has neither 'vcpu." + std::to_string(v) + ".xsave' nor '.fpu': the file is incomplete");
  }
  for (const auto& p : kVmParts) out.need(p.name);
  return out;
}

}  // namespace roam::state
