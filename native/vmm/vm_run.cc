// The Vm's threads: one per vCPU running KVM_RUN and dispatching exits, plus a housekeeping thread
// (throttle kicks, partial serial lines); and start/pause/resume/close, which start, park and wake them.
#include <cmath>
#include <stdexcept>
#include <string>
#include <system_error>

#include "vmm/exit_handler.h"
#include "vmm/kick_signal.h"
#include "vmm/vm.h"

namespace roam::vmm {

namespace {
constexpr auto kThrottlePeriod = std::chrono::milliseconds(20);
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(20);
// Output without a newline is delivered once the guest has paused writing this long, so lines
// the guest writes slowly (one I/O exit per byte) are not split into many events.
constexpr auto kSerialIdle = std::chrono::milliseconds(50);
}  // namespace

void Vm::start() {
  requireNotStarted("start");
  ensureCpuid();
  std::unique_lock<std::mutex> lock(mutex_);
  // Threads are created under the lock: each one's first step takes it, so none can look at
  // threads_ (to kick a sibling) before the vector is complete.
  started_ = true;
  try {
    for (size_t i = 0; i < vcpus_.size(); ++i) threads_.emplace_back(&Vm::vcpuLoop, this, i);
    housekeeper_ = std::thread(&Vm::housekeeping, this);
  } catch (const std::system_error& e) {
    // Out of threads: stop the ones that did start, so the VM is closed rather than half-running.
    closed_ = closing_ = true;
    for (size_t i = 0; i < threads_.size(); ++i) {
      vcpus_[i]->setImmediateExit(true);
      kickThread(threads_[i].native_handle());
    }
    cv_.notify_all();
    lock.unlock();
    for (auto& t : threads_) t.join();
    throw std::runtime_error(std::string("start: cannot create the vCPU threads: ") + e.what() + "; the VM is closed");
  }
}

bool Vm::allParkedLocked() const {
  for (char p : parked_)
    if (!p) return false;
  return true;
}

void Vm::pause() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!started_ || closing_) return;
    if (!paused_) {
      paused_ = true;
      // immediate_exit covers a thread about to enter KVM_RUN; the signal one already inside.
      for (size_t i = 0; i < vcpus_.size(); ++i) {
        vcpus_[i]->setImmediateExit(true);
        kickThread(threads_[i].native_handle());
      }
      cv_.notify_all();  // wakes a vCPU sleeping off its throttle share
    }
    cv_.wait(lock, [this] { return allParkedLocked(); });
  }
  uart_->flush();  // output written before the pause reaches JS before anything after resume
}

void Vm::resume() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_ || !paused_ || closing_) return;
  for (auto& v : vcpus_) v->setImmediateExit(false);
  paused_ = false;
  cv_.notify_all();
}

bool Vm::isRunning() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_ || paused_ || closing_ || machineStopped_) return false;
  for (char s : vcpuStopped_)
    if (!s) return true;
  return false;
}

void Vm::stopMachine() {
  std::lock_guard<std::mutex> lock(mutex_);
  machineStopped_ = true;
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    vcpus_[i]->setImmediateExit(true);
    if (i < threads_.size()) kickThread(threads_[i].native_handle());
  }
  cv_.notify_all();
}

void Vm::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    for (size_t i = 0; i < vcpus_.size(); ++i) {
      vcpus_[i]->setImmediateExit(true);
      if (i < threads_.size()) kickThread(threads_[i].native_handle());
    }
    cv_.notify_all();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (uart_) uart_->flush();
}

void Vm::throttleSleep(std::chrono::steady_clock::time_point& lastSleep) {
  double share = throttle_.load();
  if (share <= 0) return;
  auto now = std::chrono::steady_clock::now();
  auto runBudget = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kThrottlePeriod * (1.0 - share));
  if (now - lastSleep < runBudget) return;
  auto sleepFor = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kThrottlePeriod * share);
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_for(lock, sleepFor, [this] { return paused_ || closing_ || machineStopped_; });
  lastSleep = std::chrono::steady_clock::now();
}

void Vm::vcpuLoop(size_t index) {
  unblockKickSignal();
  kvm::KvmVcpu& vcpu = *vcpus_[index];
  bool needsCompletion = false;  // last exit was I/O or MMIO that KVM finishes on the next KVM_RUN
  auto lastSleep = std::chrono::steady_clock::now();
  for (;;) {
    bool completing = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      bool stop = closing_ || paused_ || machineStopped_ || vcpuStopped_[index];
      if (stop && needsCompletion && !vcpuStopped_[index]) {
        // Finish the pending instruction with one KVM_RUN that returns at once (immediate_exit),
        // so the saved state has no half-done I/O and nothing is replayed or lost.
        vcpu.setImmediateExit(true);
        completing = true;
      } else if (stop) {
        parked_[index] = 1;
        cv_.notify_all();
        cv_.wait(lock, [&] { return closing_ || (!paused_ && !machineStopped_ && !vcpuStopped_[index]); });
        parked_[index] = 0;
        if (closing_) return;
        continue;
      }
    }
    if (!completing) throttleSleep(lastSleep);
    int rc;
    try {
      rc = vcpu.runOnce();
    } catch (const std::exception& e) {
      emit(VmEvent{VmEvent::Type::Error, std::string("vCPU ") + std::to_string(index) + ": " + e.what()});
      std::lock_guard<std::mutex> lock(mutex_);
      vcpuStopped_[index] = 1;
      needsCompletion = false;
      continue;
    }
    needsCompletion = false;
    if (rc != 0) continue;  // EINTR/EAGAIN: kicked; the top of the loop decides what next
    ExitOutcome outcome = handleExit(vcpu, pio_, mmio_);
    needsCompletion = outcome.needsCompletion;
    if (outcome.event) emit(std::move(*outcome.event));
    if (outcome.action == ExitOutcome::Action::StopVcpu) {
      std::lock_guard<std::mutex> lock(mutex_);
      vcpuStopped_[index] = 1;
      needsCompletion = false;
    } else if (outcome.action == ExitOutcome::Action::StopMachine) {
      needsCompletion = false;
      stopMachine();
    }
  }
}

void Vm::housekeeping() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!closing_) {
    cv_.wait_for(lock, kHousekeepingPeriod);
    if (closing_) break;
    // Throttling needs the vCPUs out of KVM_RUN now and then: guest work rarely exits on its own.
    if (throttle_.load() > 0 && !paused_ && !machineStopped_) {
      for (auto& t : threads_) kickThread(t.native_handle());
    }
    lock.unlock();
    uart_->flushIfIdle(kSerialIdle);  // a partial line (a prompt) does not wait for a newline forever
    lock.lock();
  }
}

void Vm::setThrottle(double share) {
  if (!std::isfinite(share) || share < 0 || share > 0.99) {
    throw std::invalid_argument("throttle share " + std::to_string(share) + " is out of range (0 .. 0.99)");
  }
  throttle_.store(share);
}

}  // namespace roam::vmm
