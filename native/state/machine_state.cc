// saveMachine / restoreMachine / describe: the KVM state of a whole machine in the section format.
// Read order and restore order follow ARCHITECTURE.md ("Machine state, in the order it must be
// restored"); the reasons are in the comments where the order matters.
#include "machine_state.h"

#include <cstring>
#include <stdexcept>

#include "../kvm/vcpu_state.h"
#include "../kvm/vm_state.h"
#include "byte_order.h"
#include "format.h"
#include "sections.h"

namespace roam::state {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrTscDeadline = 0x6e0;

template <typename T>
void addRaw(StateWriter& w, const std::string& name, const T& value) {
  w.add(name, 1, 0, &value, sizeof value);
}

template <typename T>
T readRaw(const SectionView& s) {
  // Sizes were checked by checkState(); this guards against a caller that skipped it.
  if (s.length != sizeof(T)) fail("state section '" + s.name + "' has the wrong size");
  T v;
  std::memcpy(&v, s.payload, sizeof v);
  return v;
}

std::vector<uint8_t> encodeCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<uint8_t> out;
  putLe32(out, uint32_t(entries.size()));
  for (const auto& e : entries) {
    for (uint32_t v : {e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx}) putLe32(out, v);
  }
  return out;
}

std::vector<kvm_cpuid_entry2> decodeCpuid(const SectionView& s) {
  uint32_t n = getLe32(s.payload);
  std::vector<kvm_cpuid_entry2> out(n);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* p = s.payload + 4 + size_t(i) * kCpuidEntryBytes;
    auto& e = out[i];
    e = kvm_cpuid_entry2{};
    e.function = getLe32(p);
    e.index = getLe32(p + 4);
    e.flags = getLe32(p + 8);
    e.eax = getLe32(p + 12);
    e.ebx = getLe32(p + 16);
    e.ecx = getLe32(p + 20);
    e.edx = getLe32(p + 24);
  }
  return out;
}

std::vector<uint8_t> encodeMsrs(const std::vector<kvm_msr_entry>& entries) {
  std::vector<uint8_t> out;
  putLe32(out, uint32_t(entries.size()));
  for (const auto& e : entries) {
    putLe32(out, e.index);
    putLe64(out, e.data);
  }
  return out;
}

std::vector<kvm_msr_entry> decodeMsrs(const SectionView& s) {
  uint32_t n = getLe32(s.payload);
  std::vector<kvm_msr_entry> out(n);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* p = s.payload + 4 + size_t(i) * kMsrEntryBytes;
    out[i] = kvm_msr_entry{};
    out[i].index = getLe32(p);
    out[i].data = getLe64(p + 4);
  }
  return out;
}

std::string machineText(const MachineDesc& d) {
  return std::to_string(d.memBytes / (1024 * 1024)) + " MiB of RAM and " + std::to_string(d.vcpus) + " vCPU" +
         (d.vcpus == 1 ? "" : "s");
}

// Everything one vCPU gets on restore, decoded before the first ioctl so a bad file changes nothing.
struct VcpuImage {
  std::vector<kvm_cpuid_entry2> cpuid;
  uint32_t tscKhz = 0;
  uint32_t mpState = 0;
  kvm_regs regs{};
  bool hasSregs2 = false;
  kvm_sregs sregs{};
  kvm_sregs2 sregs2{};
  bool hasXsave = false;
  std::vector<uint8_t> xsave;
  kvm_fpu fpu{};
  bool hasXcrs = false;
  kvm_xcrs xcrs{};
  kvm_lapic_state lapic{};
  std::vector<kvm_msr_entry> msrs;
  kvm_debugregs debugregs{};
  kvm_vcpu_events events{};
};

// Without KVM_SET_SREGS2 on this host: the same registers minus the PDPTRs, which KVM reloads
// from CR3 when it needs them (PAE paging outside long mode).
kvm_sregs sregsFrom2(const kvm_sregs2& s2) {
  kvm_sregs s{};
  s.cs = s2.cs; s.ds = s2.ds; s.es = s2.es; s.fs = s2.fs; s.gs = s2.gs; s.ss = s2.ss;
  s.tr = s2.tr; s.ldt = s2.ldt; s.gdt = s2.gdt; s.idt = s2.idt;
  s.cr0 = s2.cr0; s.cr2 = s2.cr2; s.cr3 = s2.cr3; s.cr4 = s2.cr4; s.cr8 = s2.cr8;
  s.efer = s2.efer; s.apic_base = s2.apic_base;
  return s;   // interrupt_bitmap stays empty: a pending interrupt travels in vcpu events
}

VcpuImage decodeVcpu(const CheckedState& st, uint32_t v, const kvm::StateCaps& caps) {
  VcpuImage img;
  auto sec = [&](const char* part) { return vcpuSection(v, part); };
  img.cpuid = decodeCpuid(st.need(sec(names::kCpuid)));
  if (const auto* s = st.find(sec(names::kTscKhz))) img.tscKhz = getLe32(s->payload);
  img.mpState = getLe32(st.need(sec(names::kMpState)).payload);
  img.regs = readRaw<kvm_regs>(st.need(sec(names::kRegs)));
  if (const auto* s = st.find(sec(names::kSregs2))) {
    img.hasSregs2 = true;
    img.sregs2 = readRaw<kvm_sregs2>(*s);
  } else {
    img.sregs = readRaw<kvm_sregs>(st.need(sec(names::kSregs)));
  }
  if (const auto* s = st.find(sec(names::kXsave))) {
    if (!caps.xsave)
      fail("the state holds XSAVE registers (saved where KVM offers XSAVE) but this host's KVM has no "
           "KVM_CAP_XSAVE: restore it on a machine with the same CPU features");
    uint32_t room = caps.xsaveBytes ? caps.xsaveBytes : uint32_t(kvm::abi::kXsaveBytes);
    if (s->length > room)
      fail("the state's XSAVE area is " + std::to_string(s->length) + " bytes but this host's KVM takes " +
           std::to_string(room) + ": the source CPU has register state this one lacks");
    img.hasXsave = true;
    img.xsave.assign(s->payload, s->payload + s->length);
    img.xsave.resize(room, 0);
  } else {
    img.fpu = readRaw<kvm_fpu>(st.need(sec(names::kFpu)));
  }
  if (const auto* s = st.find(sec(names::kXcrs))) {
    img.xcrs = readRaw<kvm_xcrs>(*s);
    if (img.xcrs.nr_xcrs > KVM_MAX_XCRS)
      fail("state section '" + s->name + "' says " + std::to_string(img.xcrs.nr_xcrs) + " XCRs; at most " +
           std::to_string(KVM_MAX_XCRS) + " exist");
    bool onlyX87 = img.xcrs.nr_xcrs == 0 || (img.xcrs.nr_xcrs == 1 && img.xcrs.xcrs[0].xcr == 0 &&
                                             img.xcrs.xcrs[0].value == 1);
    if (!caps.xcrs && !onlyX87)
      fail("the state enables extended registers in XCR0 but this host's KVM has no KVM_CAP_XCRS: restore it on "
           "a machine with the same CPU features");
    img.hasXcrs = caps.xcrs;
  }
  img.lapic = readRaw<kvm_lapic_state>(st.need(sec(names::kLapic)));
  img.msrs = decodeMsrs(st.need(sec(names::kMsrs)));
  img.debugregs = readRaw<kvm_debugregs>(st.need(sec(names::kDebugregs)));
  img.events = readRaw<kvm_vcpu_events>(st.need(sec(names::kEvents)));
  return img;
}

void applyMsrs(int fd, const std::vector<kvm_msr_entry>& msrs) {
  // The TSC first: TSC_DEADLINE is an absolute TSC value, and KVM drops a deadline written while the
  // TSC is still at 0 (a lost timer). Then everything else, then the deadline alone.
  std::vector<kvm_msr_entry> tsc, rest, deadline;
  for (const auto& m : msrs) {
    if (m.index == kMsrTsc) tsc.push_back(m);
    else if (m.index == kMsrTscDeadline) deadline.push_back(m);
    else rest.push_back(m);
  }
  kvm::setMsrs(fd, tsc);
  kvm::setMsrs(fd, rest);
  kvm::setMsrs(fd, deadline);
}

}  // namespace

std::vector<uint8_t> saveMachine(int vmFd, const std::vector<int>& vcpuFds, const MachineDesc& desc,
                                 const std::vector<DeviceBlob>& devices) {
  if (vcpuFds.empty() || vcpuFds.size() != desc.vcpus)
    fail("saveMachine: " + std::to_string(vcpuFds.size()) + " vCPU fds for a machine of " +
         std::to_string(desc.vcpus) + " vCPUs");
  for (const auto& d : devices)
    if (d.name.rfind(names::kDevicePrefix, 0) != 0 || !validSectionName(d.name) || d.version == 0)
      fail("saveMachine: device state name '" + d.name +
           "' must start with 'dev.', use [A-Za-z0-9._-] (at most 64 bytes) and have a version >= 1");

  const kvm::StateCaps caps = kvm::queryStateCaps(vmFd);
  // The MSRs this vCPU model has: KVM's list, kept to what KVM_GET_MSRS actually reads here.
  const std::vector<uint32_t> msrIndices = kvm::readableMsrs(vcpuFds[0], kvm::msrIndexList());

  StateWriter w;
  std::vector<uint8_t> machine;
  putLe64(machine, desc.memBytes);
  putLe32(machine, desc.vcpus);
  w.add(names::kMachine, 1, 0, machine);

  for (uint32_t v = 0; v < desc.vcpus; v++) {
    const int fd = vcpuFds[v];
    auto sec = [&](const char* part) { return vcpuSection(v, part); };
    // mp_state first: reading it makes KVM process a pending INIT/SIPI, which changes the registers.
    std::vector<uint8_t> mp;
    putLe32(mp, kvm::getMpState(fd));
    w.add(sec(names::kCpuid), 1, 0, encodeCpuid(kvm::getCpuid(fd)));
    w.add(sec(names::kMpState), 1, 0, mp);
    if (uint32_t khz = kvm::getTscKhz(fd)) {
      std::vector<uint8_t> k;
      putLe32(k, khz);
      w.add(sec(names::kTscKhz), 1, kSectionOptional, k);
    }
    addRaw(w, sec(names::kRegs), kvm::getRegs(fd));
    if (caps.sregs2) addRaw(w, sec(names::kSregs2), kvm::getSregs2(fd));
    else addRaw(w, sec(names::kSregs), kvm::getSregs(fd));
    if (caps.xsave) w.add(sec(names::kXsave), 1, 0, kvm::getXsave(fd, caps.xsaveBytes));
    else addRaw(w, sec(names::kFpu), kvm::getFpu(fd));
    if (caps.xcrs) addRaw(w, sec(names::kXcrs), kvm::getXcrs(fd));
    addRaw(w, sec(names::kLapic), kvm::getLapic(fd));
    w.add(sec(names::kMsrs), 1, 0, encodeMsrs(kvm::getMsrs(fd, msrIndices)));
    addRaw(w, sec(names::kDebugregs), kvm::getDebugregs(fd));
    // vcpu events last: the reads above can still move an exception or NMI into the pending state.
    addRaw(w, sec(names::kEvents), kvm::getEvents(fd));
  }

  addRaw(w, names::kPicMaster, kvm::getIrqchip(vmFd, KVM_IRQCHIP_PIC_MASTER).chip.pic);
  addRaw(w, names::kPicSlave, kvm::getIrqchip(vmFd, KVM_IRQCHIP_PIC_SLAVE).chip.pic);
  addRaw(w, names::kIoapic, kvm::getIrqchip(vmFd, KVM_IRQCHIP_IOAPIC).chip.ioapic);
  addRaw(w, names::kPit2, kvm::getPit2(vmFd));
  addRaw(w, names::kClock, kvm::getClock(vmFd));

  for (const auto& d : devices) w.add(d.name, d.version, 0, d.data);
  return w.finish();
}

Summary describe(const uint8_t* data, size_t len) {
  CheckedState st = checkState(data, len);
  Summary s;
  s.major = st.parsed.major;
  s.minor = st.parsed.minor;
  s.desc = st.desc;
  for (const auto* sec : st.known) s.sections.push_back({sec->name, sec->version, sec->length});
  return s;
}

std::vector<DeviceBlob> restoreMachine(int vmFd, const std::vector<int>& vcpuFds, const MachineDesc& expect,
                                       const uint8_t* data, size_t len) {
  // Everything is checked and decoded before the first ioctl: a bad file leaves the VM untouched.
  CheckedState st = checkState(data, len);
  if (st.desc.memBytes != expect.memBytes || st.desc.vcpus != expect.vcpus)
    fail("the state is of a machine with " + machineText(st.desc) + " but this VM has " + machineText(expect) +
         ": create the VM with the saved machine's shape");
  if (vcpuFds.size() != expect.vcpus)
    fail("restoreMachine: " + std::to_string(vcpuFds.size()) + " vCPU fds for a machine of " +
         std::to_string(expect.vcpus) + " vCPUs");

  const kvm::StateCaps caps = kvm::queryStateCaps(vmFd);
  std::vector<VcpuImage> vcpus;
  for (uint32_t v = 0; v < expect.vcpus; v++) vcpus.push_back(decodeVcpu(st, v, caps));
  kvm_irqchip picMaster{}, picSlave{}, ioapic{};
  picMaster.chip_id = KVM_IRQCHIP_PIC_MASTER;
  picMaster.chip.pic = readRaw<kvm_pic_state>(st.need(names::kPicMaster));
  picSlave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  picSlave.chip.pic = readRaw<kvm_pic_state>(st.need(names::kPicSlave));
  ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  ioapic.chip.ioapic = readRaw<kvm_ioapic_state>(st.need(names::kIoapic));
  const auto pit = readRaw<kvm_pit_state2>(st.need(names::kPit2));
  const auto clock = readRaw<kvm_clock_data>(st.need(names::kClock));
  std::vector<DeviceBlob> devices;
  for (const auto* s : st.known)
    if (s->name.rfind(names::kDevicePrefix, 0) == 0)
      devices.push_back(DeviceBlob{s->name, s->version, std::vector<uint8_t>(s->payload, s->payload + s->length)});

  // CPUID first: KVM derives the vCPU model (which MSRs exist, XSAVE layout, ...) from it.
  for (uint32_t v = 0; v < expect.vcpus; v++) {
    kvm::setCpuid(vcpuFds[v], vcpus[v].cpuid);
    // The guest's TSC runs at its saved rate where this host can scale it (before the TSC is written).
    if (vcpus[v].tscKhz && caps.tscControl && kvm::getTscKhz(vcpuFds[v]) != vcpus[v].tscKhz)
      kvm::setTscKhz(vcpuFds[v], vcpus[v].tscKhz);
  }
  for (uint32_t v = 0; v < expect.vcpus; v++) {
    const int fd = vcpuFds[v];
    const VcpuImage& img = vcpus[v];
    if (img.hasSregs2 && caps.sregs2) kvm::setSregs2(fd, img.sregs2);
    else kvm::setSregs(fd, img.hasSregs2 ? sregsFrom2(img.sregs2) : img.sregs);
    kvm::setRegs(fd, img.regs);
    if (img.hasXsave) kvm::setXsave(fd, img.xsave);
    else kvm::setFpu(fd, img.fpu);
    if (img.hasXcrs) kvm::setXcrs(fd, img.xcrs);
    // LAPIC after sregs (APIC base and x2APIC mode come from there), before the MSRs (TSC_DEADLINE
    // is armed against the LAPIC's timer mode).
    kvm::setLapic(fd, img.lapic);
    applyMsrs(fd, img.msrs);
    kvm::setDebugregs(fd, img.debugregs);
    kvm::setEvents(fd, img.events);
    kvm::setMpState(fd, img.mpState);
  }
  kvm::setIrqchip(vmFd, picMaster);
  kvm::setIrqchip(vmFd, picSlave);
  kvm::setIrqchip(vmFd, ioapic);
  kvm::setPit2(vmFd, pit);
  kvm::setClock(vmFd, clock);
  // Tell each guest kvmclock it was stopped, so its soft-lockup watchdog ignores the gap.
  for (int fd : vcpuFds) kvm::kvmclockCtrl(fd);
  return devices;
}

}  // namespace roam::state
