// The Vm: a KVM VM with its RAM, devices and one std::thread per vCPU. Lifecycle:
//   created -> [loadMultiboot | loadBzImage | restoreState] -> start -> (pause <-> resume)* -> close.
// pause() returns only when every vCPU is out of KVM_RUN with any pending I/O completed, which is
// what saveState and the migration's last dirty sync rely on.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "arch/x86_64/bzimage.h"
#include "arch/x86_64/multiboot.h"
#include "devices/framebuffer.h"
#include "devices/i8042.h"
#include "devices/mmio_bus.h"
#include "devices/pio_bus.h"
#include "devices/post_code_port.h"
#include "devices/uart8250.h"
#include "kvm/system.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "memory/guest_memory.h"
#include "vmm/vm_config.h"
#include "vmm/vm_event.h"

namespace roam::vmm {

class Vm {
 public:
  // Throws std::invalid_argument for a bad config and KvmError / std::runtime_error when KVM or the
  // host refuses; nothing is left allocated on failure.
  Vm(const VmConfig& config, EventSink sink);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  uint64_t memBytes() const { return config_.memBytes; }
  uint32_t vcpuCount() const { return config_.vcpus; }
  const std::vector<memory::RamSlot>& slots() const { return memory_->slots(); }
  // The framebuffer's slot, or nullptr when the VM was created with display off.
  const memory::RamSlot* display() const { return framebuffer_ ? memory_->findSlot(devices::Framebuffer::kSlot) : nullptr; }
  // Shared so that JS views over the mapping can outlive close() without dangling.
  std::shared_ptr<memory::GuestMemory> guestMemory() const { return memory_; }
  int memfd() const { return memory_->fd(); }

  x86::MultibootLoad loadMultiboot(const uint8_t* kernel, size_t len, const std::string& cmdline);
  x86::BzImageResult loadBzImage(const uint8_t* kernel, size_t len, const std::string& cmdline, const uint8_t* initrd,
                                 size_t initrdLen);

  void start();
  void pause();   // idempotent; no-op before start
  void resume();  // no-op unless paused
  bool isRunning() const;
  void close();   // idempotent; joins the threads

  // See native/index.ts: KVM's log OR the VMM's bitmap for the slot, into `out` (`outWords` u64s).
  void dirtyLog(uint32_t slot, uint64_t* out, size_t outWords, bool clear);
  // The display's damage since its last call: ORs into out[0..outWords) (at least
  // Framebuffer::kWords), bit i = scanline i. Throws when the VM has no display.
  void displayDamage(uint64_t* out, size_t outWords);
  void setThrottle(double share);

  // Host input to the PS/2 devices (see devices/i8042.h); safe while the vCPUs run.
  void keyboardInput(const uint8_t* set2, size_t len);
  void mouseInput(int32_t dx, int32_t dy, uint8_t buttons);
  // Test hook: one port access through the PIO bus from the calling thread, as a vCPU would make
  // it. Writes `*value` (its low `size` bytes) when given, else reads; returns what was read.
  uint32_t ioForTest(uint16_t port, uint32_t size, const uint32_t* value);

  std::vector<uint8_t> saveState();
  void restoreState(const uint8_t* data, size_t len);

  std::map<uint16_t, uint64_t> unknownPorts() const { return pio_.unknownPortCounts(); }

 private:
  void ensureCpuid();
  void writeMpTable();  // so a guest OS finds every vCPU (after a loader: it lies in reserved BIOS space)
  void requireNotStarted(const char* what) const;
  void requireOpen(const char* what) const;
  void vcpuLoop(size_t index);
  void housekeeping();
  void stopMachine();
  void emit(VmEvent event);
  void throttleSleep(std::chrono::steady_clock::time_point& lastSleep);
  bool allParkedLocked() const;
  void fetchFramebufferLogLocked(const memory::RamSlot& s);  // dirtyMutex_ held

  VmConfig config_;
  EventSink sink_;
  kvm::KvmSystem system_;
  kvm::KvmVm vm_;
  std::shared_ptr<memory::GuestMemory> memory_;
  std::vector<std::unique_ptr<kvm::KvmVcpu>> vcpus_;
  std::vector<uint64_t> legacyPendingDirty_[2];  // RAM slots 0, 1 on kernels without manual protect: bits read but not yet cleared
  std::mutex dirtyMutex_;

  devices::PioBus pio_;
  devices::MmioBus mmio_;
  std::unique_ptr<devices::Uart8250> uart_;
  std::unique_ptr<devices::I8042> i8042_;
  std::unique_ptr<devices::Framebuffer> framebuffer_;  // null with display off
  devices::PostCodePort postCode_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
  std::thread housekeeper_;
  std::vector<char> parked_;        // per vCPU, guarded by mutex_
  std::vector<char> vcpuStopped_;   // per vCPU: stopped on an exit it cannot handle
  bool started_ = false, paused_ = false, closing_ = false, machineStopped_ = false;
  bool cpuidSet_ = false, closed_ = false;
  std::atomic<double> throttle_{0.0};
};

}  // namespace roam::vmm
