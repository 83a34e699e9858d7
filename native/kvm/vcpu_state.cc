#include "vcpu_state.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "vm_state.h"

namespace roam::kvm {
namespace {

// A C-layout head (abi::Cpuid2Head / abi::MsrsHead, 8 bytes) followed by `n` entries, 8-aligned.
template <typename Head, typename Entry>
struct FlexBuffer {
  static_assert(sizeof(Head) == 8);
  std::vector<uint64_t> storage;
  explicit FlexBuffer(size_t n) : storage(1 + (n * sizeof(Entry) + 7) / 8, 0) {}
  Head* head() { return reinterpret_cast<Head*>(storage.data()); }
  Entry* entries() { return reinterpret_cast<Entry*>(storage.data() + 1); }
};
using CpuidBuffer = FlexBuffer<abi::Cpuid2Head, kvm_cpuid_entry2>;
using MsrBuffer = FlexBuffer<abi::MsrsHead, kvm_msr_entry>;

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

std::vector<kvm_cpuid_entry2> getCpuid(int vcpuFd) {
  // KVM answers E2BIG while the buffer is too small; grow until it fits.
  for (uint32_t n = 64; n <= 1024; n *= 2) {
    CpuidBuffer buf(n);
    buf.head()->nent = n;
    if (::ioctl(vcpuFd, abi::kGetCpuid2, buf.head()) == 0) {
      const auto* e = buf.entries();
      return std::vector<kvm_cpuid_entry2>(e, e + buf.head()->nent);
    }
    if (errno != E2BIG) throw std::runtime_error(std::string("KVM_GET_CPUID2 failed: ") + std::strerror(errno));
  }
  throw std::runtime_error("KVM_GET_CPUID2 failed: more than 1024 CPUID entries");
}

void setCpuid(int vcpuFd, const std::vector<kvm_cpuid_entry2>& entries) {
  CpuidBuffer buf(entries.size());
  buf.head()->nent = uint32_t(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  stateIoctl(vcpuFd, abi::kSetCpuid2, buf.head(), "KVM_SET_CPUID2");
}

uint32_t getTscKhz(int vcpuFd) {
  int r = ::ioctl(vcpuFd, KVM_GET_TSC_KHZ, 0);
  return r > 0 ? uint32_t(r) : 0;
}

void setTscKhz(int vcpuFd, uint32_t khz) {
  if (::ioctl(vcpuFd, KVM_SET_TSC_KHZ, static_cast<unsigned long>(khz)) < 0)
    throw std::runtime_error("KVM_SET_TSC_KHZ to " + std::to_string(khz) + " kHz failed: " + std::strerror(errno) +
                             " (this host cannot run the guest's TSC at its saved rate)");
}

uint32_t getMpState(int vcpuFd) {
  kvm_mp_state s{};
  stateIoctl(vcpuFd, KVM_GET_MP_STATE, &s, "KVM_GET_MP_STATE");
  return s.mp_state;
}
void setMpState(int vcpuFd, uint32_t state) {
  kvm_mp_state s{state};
  stateIoctl(vcpuFd, KVM_SET_MP_STATE, &s, "KVM_SET_MP_STATE");
}

kvm_regs getRegs(int vcpuFd) {
  kvm_regs r{};
  stateIoctl(vcpuFd, KVM_GET_REGS, &r, "KVM_GET_REGS");
  return r;
}
void setRegs(int vcpuFd, const kvm_regs& r) {
  kvm_regs c = r;
  stateIoctl(vcpuFd, KVM_SET_REGS, &c, "KVM_SET_REGS");
}

kvm_sregs getSregs(int vcpuFd) {
  kvm_sregs s{};
  stateIoctl(vcpuFd, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
  return s;
}
void setSregs(int vcpuFd, const kvm_sregs& s) {
  kvm_sregs c = s;
  stateIoctl(vcpuFd, KVM_SET_SREGS, &c, "KVM_SET_SREGS");
}
kvm_sregs2 getSregs2(int vcpuFd) {
  kvm_sregs2 s{};
  stateIoctl(vcpuFd, KVM_GET_SREGS2, &s, "KVM_GET_SREGS2");
  return s;
}
void setSregs2(int vcpuFd, const kvm_sregs2& s) {
  kvm_sregs2 c = s;
  stateIoctl(vcpuFd, KVM_SET_SREGS2, &c, "KVM_SET_SREGS2");
}

std::vector<uint8_t> getXsave(int vcpuFd, uint32_t bytes) {
  size_t size = bytes > abi::kXsaveBytes ? bytes : abi::kXsaveBytes;
  std::vector<uint64_t> area((size + 7) / 8, 0);
  if (bytes > abi::kXsaveBytes)
    stateIoctl(vcpuFd, abi::kGetXsave2, area.data(), "KVM_GET_XSAVE2");
  else
    stateIoctl(vcpuFd, abi::kGetXsave, area.data(), "KVM_GET_XSAVE");
  const auto* p = reinterpret_cast<const uint8_t*>(area.data());
  return std::vector<uint8_t>(p, p + size);
}
void setXsave(int vcpuFd, const std::vector<uint8_t>& bytes) {
  if (bytes.size() < abi::kXsaveBytes) throw std::logic_error("setXsave: area smaller than struct kvm_xsave");
  std::vector<uint64_t> area((bytes.size() + 7) / 8, 0);
  std::memcpy(area.data(), bytes.data(), bytes.size());
  stateIoctl(vcpuFd, abi::kSetXsave, area.data(), "KVM_SET_XSAVE");
}
kvm_fpu getFpu(int vcpuFd) {
  kvm_fpu f{};
  stateIoctl(vcpuFd, KVM_GET_FPU, &f, "KVM_GET_FPU");
  return f;
}
void setFpu(int vcpuFd, const kvm_fpu& f) {
  kvm_fpu c = f;
  stateIoctl(vcpuFd, KVM_SET_FPU, &c, "KVM_SET_FPU");
}

kvm_xcrs getXcrs(int vcpuFd) {
  kvm_xcrs x{};
  stateIoctl(vcpuFd, KVM_GET_XCRS, &x, "KVM_GET_XCRS");
  return x;
}
void setXcrs(int vcpuFd, const kvm_xcrs& x) {
  kvm_xcrs c = x;
  stateIoctl(vcpuFd, KVM_SET_XCRS, &c, "KVM_SET_XCRS");
}

kvm_lapic_state getLapic(int vcpuFd) {
  kvm_lapic_state l{};
  stateIoctl(vcpuFd, KVM_GET_LAPIC, &l, "KVM_GET_LAPIC");
  return l;
}
void setLapic(int vcpuFd, const kvm_lapic_state& l) {
  kvm_lapic_state c = l;
  stateIoctl(vcpuFd, KVM_SET_LAPIC, &c, "KVM_SET_LAPIC");
}

std::vector<uint32_t> readableMsrs(int vcpuFd, const std::vector<uint32_t>& candidates) {
  std::vector<uint32_t> out;
  MsrBuffer buf(1);
  for (uint32_t index : candidates) {
    buf.head()->nmsrs = 1;
    buf.entries()[0] = kvm_msr_entry{};
    buf.entries()[0].index = index;
    // KVM_GET_MSRS returns how many it read: 1 when this MSR exists for this vCPU.
    if (::ioctl(vcpuFd, abi::kGetMsrs, buf.head()) == 1) out.push_back(index);
  }
  return out;
}

std::vector<kvm_msr_entry> getMsrs(int vcpuFd, const std::vector<uint32_t>& indices) {
  MsrBuffer buf(indices.size());
  buf.head()->nmsrs = uint32_t(indices.size());
  for (size_t i = 0; i < indices.size(); i++) buf.entries()[i].index = indices[i];
  int got = stateIoctl(vcpuFd, abi::kGetMsrs, buf.head(), "KVM_GET_MSRS");
  if (size_t(got) != indices.size())
    throw std::runtime_error("KVM_GET_MSRS read " + std::to_string(got) + " of " + std::to_string(indices.size()) +
                             " MSRs; it stopped at MSR " + hex(indices[size_t(got)]));
  const auto* e = buf.entries();
  return std::vector<kvm_msr_entry>(e, e + indices.size());
}

void setMsrs(int vcpuFd, const std::vector<kvm_msr_entry>& entries) {
  if (entries.empty()) return;
  MsrBuffer buf(entries.size());
  buf.head()->nmsrs = uint32_t(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size() * sizeof(kvm_msr_entry));
  int set = stateIoctl(vcpuFd, abi::kSetMsrs, buf.head(), "KVM_SET_MSRS");
  if (size_t(set) != entries.size())
    throw std::runtime_error("KVM_SET_MSRS refused MSR " + hex(entries[size_t(set)].index) + " (value " +
                             hex(uint32_t(entries[size_t(set)].data >> 32)) + ":" +
                             hex(uint32_t(entries[size_t(set)].data)) +
                             "): this host's KVM does not accept the saved CPU state");
}

kvm_debugregs getDebugregs(int vcpuFd) {
  kvm_debugregs d{};
  stateIoctl(vcpuFd, KVM_GET_DEBUGREGS, &d, "KVM_GET_DEBUGREGS");
  return d;
}
void setDebugregs(int vcpuFd, const kvm_debugregs& d) {
  kvm_debugregs c = d;
  c.flags = 0;   // KVM refuses any flag on set
  stateIoctl(vcpuFd, KVM_SET_DEBUGREGS, &c, "KVM_SET_DEBUGREGS");
}

kvm_vcpu_events getEvents(int vcpuFd) {
  kvm_vcpu_events e{};
  stateIoctl(vcpuFd, KVM_GET_VCPU_EVENTS, &e, "KVM_GET_VCPU_EVENTS");
  return e;
}
void setEvents(int vcpuFd, const kvm_vcpu_events& e) {
  kvm_vcpu_events c = e;
  // GET fills sipi_vector but does not flag it; ask SET to restore it too.
  c.flags |= KVM_VCPUEVENT_VALID_SIPI_VECTOR;
  stateIoctl(vcpuFd, KVM_SET_VCPU_EVENTS, &c, "KVM_SET_VCPU_EVENTS");
}

bool kvmclockCtrl(int vcpuFd) {
  if (::ioctl(vcpuFd, KVM_KVMCLOCK_CTRL, 0) == 0) return true;
  if (errno == EINVAL) return false;
  throw std::runtime_error(std::string("KVM_KVMCLOCK_CTRL failed: ") + std::strerror(errno));
}

}  // namespace roam::kvm
