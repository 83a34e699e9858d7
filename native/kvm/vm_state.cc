#include "vm_state.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace roam::kvm {

int stateIoctl(int fd, unsigned long request, void* arg, const char* what) {
  int r;
  do {
    r = ::ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw std::runtime_error(std::string(what) + " failed: " + std::strerror(errno));
  return r;
}

namespace {
int checkCap(int vmFd, int cap) {
  // KVM_CHECK_EXTENSION on the VM fd answers for this VM; 0 on error means "not offered".
  int r = ::ioctl(vmFd, KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

// MSRs the design requires in the state even if the index list of some kernel omits one;
// the caller keeps only those KVM_GET_MSRS accepts.
constexpr uint32_t kRequiredMsrs[] = {
    0x10,        // IA32_TSC
    0x1b,        // IA32_APIC_BASE
    0x174, 0x175, 0x176,   // SYSENTER_CS/ESP/EIP
    0x1a0,       // IA32_MISC_ENABLE
    0x277,       // IA32_PAT
    0x6e0,       // IA32_TSC_DEADLINE
    0xc0000080,  // EFER
    0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,   // STAR, LSTAR, CSTAR, SYSCALL_MASK
    0xc0000102,  // KERNEL_GS_BASE
    0x11, 0x12,  // kvm wall clock / system time (old numbers)
    0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d05, 0x4b564d06, 0x4b564d07,
};
}  // namespace

StateCaps queryStateCaps(int vmFd) {
  StateCaps c;
  c.xsave = checkCap(vmFd, KVM_CAP_XSAVE) > 0;
  if (c.xsave) {
    int size = checkCap(vmFd, KVM_CAP_XSAVE2);
    c.xsaveBytes = size > int(abi::kXsaveBytes) ? uint32_t(size) : 0;
  }
  c.xcrs = checkCap(vmFd, KVM_CAP_XCRS) > 0;
  c.sregs2 = checkCap(vmFd, KVM_CAP_SREGS2) > 0;
  c.tscControl = checkCap(vmFd, KVM_CAP_TSC_CONTROL) > 0;
  c.vcpuEvents = checkCap(vmFd, KVM_CAP_VCPU_EVENTS) > 0;
  c.debugregs = checkCap(vmFd, KVM_CAP_DEBUGREGS) > 0;
  return c;
}

std::vector<uint32_t> msrIndexList() {
  int sys = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (sys < 0) throw std::runtime_error(std::string("cannot open /dev/kvm for the MSR list: ") + std::strerror(errno));
  std::vector<uint32_t> out;
  try {
    abi::MsrListHead probe{0};
    // With nmsrs = 0 KVM answers E2BIG and says how many there are.
    if (::ioctl(sys, abi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG)
      throw std::runtime_error(std::string("KVM_GET_MSR_INDEX_LIST failed: ") + std::strerror(errno));
    uint32_t n = std::min<uint32_t>(probe.nmsrs, 4096);
    std::vector<uint32_t> buf(1 + n, 0);
    buf[0] = n;
    stateIoctl(sys, abi::kGetMsrIndexList, buf.data(), "KVM_GET_MSR_INDEX_LIST");
    out.assign(buf.begin() + 1, buf.begin() + 1 + std::min(n, buf[0]));
  } catch (...) {
    ::close(sys);
    throw;
  }
  ::close(sys);
  for (uint32_t m : kRequiredMsrs)
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  return out;
}

kvm_irqchip getIrqchip(int vmFd, uint32_t chipId) {
  kvm_irqchip chip{};
  chip.chip_id = chipId;
  stateIoctl(vmFd, KVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP");
  return chip;
}

void setIrqchip(int vmFd, const kvm_irqchip& chip) {
  kvm_irqchip copy = chip;
  stateIoctl(vmFd, KVM_SET_IRQCHIP, &copy, "KVM_SET_IRQCHIP");
}

kvm_pit_state2 getPit2(int vmFd) {
  kvm_pit_state2 pit{};
  stateIoctl(vmFd, KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
  return pit;
}

void setPit2(int vmFd, const kvm_pit_state2& pit) {
  kvm_pit_state2 copy = pit;
  stateIoctl(vmFd, KVM_SET_PIT2, &copy, "KVM_SET_PIT2");
}

kvm_clock_data getClock(int vmFd) {
  kvm_clock_data c{};
  stateIoctl(vmFd, KVM_GET_CLOCK, &c, "KVM_GET_CLOCK");
  return c;
}

void setClock(int vmFd, const kvm_clock_data& clock) {
  kvm_clock_data c{};
  c.clock = clock.clock;
  c.flags = 0;   // not KVM_CLOCK_REALTIME / HOST_TSC: no jump by the time the machine was away
  stateIoctl(vmFd, KVM_SET_CLOCK, &c, "KVM_SET_CLOCK");
}

}  // namespace roam::kvm
