#include "vmm/vm.h"

#include <stdexcept>

#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/e820_layout.h"
#include "arch/x86_64/entry_state.h"
#include "arch/x86_64/mptable.h"
#include "state/machine_state.h"
#include "vmm/kick_signal.h"

namespace roam::vmm {

namespace {

// In the 3..4 GiB hole, clear of the IOAPIC (0xFEC00000) and LAPIC (0xFEE00000); where QEMU puts them.
constexpr uint64_t kIdentityMapAddr = 0xFEFFC000;  // 1 page
constexpr uint64_t kTssAddr = 0xFEFFD000;          // 3 pages

VmConfig validated(const VmConfig& config) {
  validateConfig(config);
  return config;
}

}  // namespace

Vm::Vm(const VmConfig& config, EventSink sink)
    : config_(validated(config)), sink_(std::move(sink)), system_(), vm_(system_) {
  int maxVcpus = system_.checkExtension(KVM_CAP_MAX_VCPUS);
  if (maxVcpus <= 0) maxVcpus = system_.checkExtension(KVM_CAP_NR_VCPUS);
  if (maxVcpus > 0 && config_.vcpus > uint32_t(maxVcpus)) {
    throw std::invalid_argument("vcpus " + std::to_string(config_.vcpus) + " exceeds what KVM allows here (" +
                                std::to_string(maxVcpus) + ")");
  }
  // Order matters to KVM: identity map and TSS, then the irqchip, all before any vCPU exists.
  if (system_.checkExtension(KVM_CAP_SET_IDENTITY_MAP_ADDR)) vm_.setIdentityMapAddr(kIdentityMapAddr);
  if (system_.checkExtension(KVM_CAP_SET_TSS_ADDR)) vm_.setTssAddr(kTssAddr);
  vm_.createIrqchip();
  vm_.createPit2();
  vm_.enableManualDirtyLogProtect();

  memory::DeviceRegion fbRegion = devices::Framebuffer::region();
  memory_ = std::make_shared<memory::GuestMemory>(config_.memBytes, config_.display ? &fbRegion : nullptr);
  if (config_.display) framebuffer_ = std::make_unique<devices::Framebuffer>();
  for (const auto& s : memory_->slots()) {
    vm_.setUserMemoryRegion(s.slot, KVM_MEM_LOG_DIRTY_PAGES, s.guestPhys, s.size, memory_->slotHost(s));
    // The framebuffer keeps its own accumulators (devices/framebuffer.h), so only RAM needs these.
    if (!vm_.manualDirtyLogProtect() && s.kind == memory::SlotKind::Ram) {
      legacyPendingDirty_[s.slot].assign((s.size / memory::kPageSize + 63) / 64, 0);
    }
  }
  for (uint32_t i = 0; i < config_.vcpus; ++i) vcpus_.push_back(std::make_unique<kvm::KvmVcpu>(system_, vm_, i));

  uart_ = std::make_unique<devices::Uart8250>(
      [this](std::string bytes) { emit(VmEvent{VmEvent::Type::Serial, std::move(bytes)}); },
      [this](bool level) {
        try {
          vm_.irqLine(devices::Uart8250::kIrq, level);
        } catch (const std::exception&) {
          // A lost UART interrupt only slows an interrupt-driven console; never stop the vCPU for it.
        }
      });
  i8042_ = std::make_unique<devices::I8042>(
      [this] {
        emit(VmEvent{VmEvent::Type::Reset, ""});
        stopMachine();
      },
      [this](uint32_t irq) {
        // An edge: the in-kernel PIC/IOAPIC latch it. KVM_IRQ_LINE is safe from any thread.
        try {
          vm_.irqLine(irq, true);
          vm_.irqLine(irq, false);
        } catch (const std::exception&) {
          // A lost key interrupt: the guest still sees the byte on its next status poll.
        }
      });
  pio_.attach(devices::Uart8250::kCom1Base, devices::Uart8250::kPortCount, uart_.get());
  pio_.attach(devices::I8042::kDataPort, 1, &i8042_->dataPort());
  pio_.attach(devices::I8042::kCommandPort, 1, &i8042_->commandPort());
  pio_.attach(devices::PostCodePort::kPort, 1, &postCode_);

  parked_.assign(config_.vcpus, 0);
  vcpuStopped_.assign(config_.vcpus, 0);
  installKickHandler();
}

Vm::~Vm() { close(); }

void Vm::emit(VmEvent event) {
  if (sink_) sink_(std::move(event));
}

void Vm::requireNotStarted(const char* what) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) throw std::runtime_error(std::string(what) + ": the VM is closed");
  if (started_) throw std::runtime_error(std::string(what) + " must be called before start()");
}

void Vm::ensureCpuid() {
  if (cpuidSet_) return;
  auto supported = system_.supportedCpuid();
  for (auto& v : vcpus_) v->setCpuid(x86::cpuidForVcpu(supported, v->id(), config_.vcpus));
  cpuidSet_ = true;
}

void Vm::writeMpTable() {
  uint32_t signature = 0, features = 0;
  for (const auto& e : system_.supportedCpuid()) {
    if (e.function == 1) {
      signature = e.eax;
      features = e.edx;
    }
  }
  x86::writeMpTable(*memory_, config_.vcpus, signature, features);
}

x86::MultibootLoad Vm::loadMultiboot(const uint8_t* kernel, size_t len, const std::string& cmdline) {
  requireNotStarted("loadMultiboot");
  ensureCpuid();  // before SET_SREGS: KVM checks control-register bits against the guest's CPUID
  x86::MultibootFramebuffer fb;
  if (framebuffer_) {
    using devices::Framebuffer;
    fb = x86::MultibootFramebuffer{Framebuffer::kGuestPhysAddr, Framebuffer::kStride, Framebuffer::kWidth,
                                   Framebuffer::kHeight, Framebuffer::kBitsPerPixel};
  }
  x86::MultibootLoad load = x86::loadMultiboot(*memory_, kernel, len, cmdline, framebuffer_ ? &fb : nullptr);
  writeMpTable();
  kvm::KvmVcpu& bsp = *vcpus_[0];
  kvm_sregs sregs = bsp.getSregs();
  kvm_regs regs{};
  x86::multibootEntry(sregs, regs, load.entry, load.infoAddr, x86::kBootGdtAddr);
  bsp.setSregs(sregs);
  bsp.setRegs(regs);
  return load;
}

x86::BzImageResult Vm::loadBzImage(const uint8_t* kernel, size_t len, const std::string& cmdline,
                                   const uint8_t* initrd, size_t initrdLen) {
  requireNotStarted("loadBzImage");
  ensureCpuid();
  const memory::RamSlot& low = memory_->slots().front();
  x86::BzImageResult result;
  try {
    result = x86::loadBzImage(memory_->slotHost(low), low.size, kernel, len, cmdline, initrd, initrdLen,
                              x86::e820Layout(*memory_));
  } catch (...) {
    memory_->vmmDirty(low.slot).markAll();  // it may have written part of RAM before failing
    throw;
  }
  // The loader writes through a raw pointer to several places; count the whole low slot as written.
  memory_->vmmDirty(low.slot).markAll();
  writeMpTable();
  kvm::KvmVcpu& bsp = *vcpus_[0];
  kvm_sregs sregs = bsp.getSregs();
  kvm_regs regs{};
  x86::longModeEntry(sregs, regs, result.entry, result.zeroPageAddr, result.pageTableAddr, result.gdtAddr,
                     result.stackTop);
  bsp.setSregs(sregs);
  bsp.setRegs(regs);
  return result;
}

void Vm::keyboardInput(const uint8_t* set2, size_t len) {
  requireOpen("keyboardInput");
  i8042_->keyboardInput(set2, len);
}

void Vm::mouseInput(int32_t dx, int32_t dy, uint8_t buttons) {
  requireOpen("mouseInput");
  i8042_->mouseInput(dx, dy, buttons);
}

uint32_t Vm::ioForTest(uint16_t port, uint32_t size, const uint32_t* value) {
  requireOpen("ioForTest");
  if (size != 1 && size != 2 && size != 4) throw std::invalid_argument("ioForTest: size must be 1, 2 or 4, got " + std::to_string(size));
  uint8_t data[4] = {};
  if (value) {
    for (uint32_t i = 0; i < size; ++i) data[i] = uint8_t(*value >> (8 * i));
    pio_.write(port, data, size);
    return 0;
  }
  pio_.read(port, data, size);
  uint32_t v = 0;
  for (uint32_t i = 0; i < size; ++i) v |= uint32_t(data[i]) << (8 * i);
  return v;
}

void Vm::requireOpen(const char* what) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) throw std::runtime_error(std::string(what) + ": the VM is closed");
}

std::vector<uint8_t> Vm::saveState() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) throw std::runtime_error("saveState: the VM is closed");
    if (started_ && !paused_) throw std::runtime_error("saveState needs a paused VM: call pause() first");
  }
  ensureCpuid();
  std::vector<int> fds;
  for (auto& v : vcpus_) fds.push_back(v->fd());
  std::vector<state::DeviceBlob> blobs{uart_->saveState(), i8042_->saveState()};
  state::MachineDesc desc;
  desc.memBytes = config_.memBytes;
  desc.vcpus = config_.vcpus;
  return state::saveMachine(vm_.fd(), fds, desc, blobs);
}

void Vm::restoreState(const uint8_t* data, size_t len) {
  requireNotStarted("restoreState");
  if (cpuidSet_) {
    throw std::runtime_error("restoreState needs a fresh VM: call it before loadMultiboot, loadBzImage or saveState");
  }
  std::vector<int> fds;
  for (auto& v : vcpus_) fds.push_back(v->fd());
  state::MachineDesc desc;
  desc.memBytes = config_.memBytes;
  desc.vcpus = config_.vcpus;
  std::vector<state::DeviceBlob> blobs = state::restoreMachine(vm_.fd(), fds, desc, data, len);
  cpuidSet_ = true;  // restoreMachine set the saved CPUID
  for (const auto& blob : blobs) {
    if (blob.name == devices::Uart8250::kStateName) uart_->restoreState(blob);
    else if (blob.name == devices::I8042::kStateName) i8042_->restoreState(blob);
    // A device this build does not have: its state has nowhere to go, and the guest cannot reach it.
  }
}

}  // namespace roam::vmm
