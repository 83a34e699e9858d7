// The JS object behind NativeVm (native/index.ts): owns one vmm::Vm, delivers its events through a
// thread-safe function, and hands out RAM windows as external ArrayBuffers.
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <vector>

#include "napi/vm_events.h"
#include "napi/window_refs.h"
#include "vmm/vm.h"

namespace roam::napi {

class NativeVm : public Napi::ObjectWrap<NativeVm> {
 public:
  static Napi::Function defineClass(Napi::Env env);
  // (config, onEvent); called by the addon's createVm.
  explicit NativeVm(const Napi::CallbackInfo& info);
  ~NativeVm() override;

 private:
  vmm::Vm& vm(const char* method);
  void shutdown();

  Napi::Value memBytes(const Napi::CallbackInfo& info);
  Napi::Value vcpus(const Napi::CallbackInfo& info);
  Napi::Value slots(const Napi::CallbackInfo& info);
  Napi::Value loadMultiboot(const Napi::CallbackInfo& info);
  Napi::Value loadBzImage(const Napi::CallbackInfo& info);
  Napi::Value start(const Napi::CallbackInfo& info);
  Napi::Value pause(const Napi::CallbackInfo& info);
  Napi::Value resume(const Napi::CallbackInfo& info);
  Napi::Value isRunning(const Napi::CallbackInfo& info);
  Napi::Value memory(const Napi::CallbackInfo& info);
  Napi::Value dirtyLog(const Napi::CallbackInfo& info);
  Napi::Value display(const Napi::CallbackInfo& info);
  Napi::Value displayDamage(const Napi::CallbackInfo& info);
  Napi::Value keyboardInput(const Napi::CallbackInfo& info);
  Napi::Value mouseInput(const Napi::CallbackInfo& info);
  Napi::Value ioForTest(const Napi::CallbackInfo& info);
  Napi::Value setThrottle(const Napi::CallbackInfo& info);
  Napi::Value saveState(const Napi::CallbackInfo& info);
  Napi::Value restoreState(const Napi::CallbackInfo& info);
  Napi::Value memfd(const Napi::CallbackInfo& info);
  Napi::Value unknownPorts(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::unique_ptr<vmm::Vm> vm_;
  Napi::ThreadSafeFunction events_;
  EventCounter eventsQueued_ = std::make_shared<std::atomic<uint64_t>>(0);
  bool eventsLive_ = false;
  uint64_t memBytes_ = 0;
  uint32_t vcpus_ = 0;
  // Windows handed to JS, per slot; detached on close so no view reaches freed memory.
  WindowRefs windows_;
};

}  // namespace roam::napi
