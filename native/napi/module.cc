// The addon's entry point: kvmStatus, createVm, abortForTest here; the state layer adds
// describeState and prepareBzImage through registerStateBindings.
#include <napi.h>

#include <cstdlib>

#include "kvm/system.h"
#include "napi/guest_memory_map.h"
#include "napi/native_vm.h"
#include "napi/state_bindings.h"
#include "napi/xattr_bindings.h"
#include "napi/unix_fd_socket.h"

namespace roam::napi {

namespace {

struct AddonData {
  Napi::FunctionReference vmClass;
};

Napi::Value kvmStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  try {
    kvm::KvmSystem system;
    out.Set("ok", true);
    out.Set("apiVersion", system.apiVersion());
  } catch (const std::exception& e) {
    out.Set("ok", false);
    out.Set("reason", e.what());
  }
  return out;
}

Napi::Value createVm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Value config = info.Length() > 0 ? info[0] : env.Undefined();
  Napi::Value onEvent = info.Length() > 1 ? info[1] : env.Undefined();
  return data->vmClass.New({config, onEvent});
}

Napi::Value abortForTest(const Napi::CallbackInfo&) { std::abort(); }

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->vmClass = Napi::Persistent(NativeVm::defineClass(env));
  env.SetInstanceData(data);
  exports.Set("kvmStatus", Napi::Function::New(env, kvmStatus, "kvmStatus"));
  exports.Set("createVm", Napi::Function::New(env, createVm, "createVm"));
  exports.Set("abortForTest", Napi::Function::New(env, abortForTest, "abortForTest"));
  registerStateBindings(env, exports);
  registerGuestMemoryMap(env, exports);
  registerXattrBindings(env, exports);
  registerUnixFdSocket(env, exports);
  return exports;
}

}  // namespace roam::napi

// NODE_API_MODULE pastes the function's name into an identifier, so it needs an unqualified one.
static Napi::Object initRoamNative(Napi::Env env, Napi::Object exports) { return roam::napi::init(env, exports); }

NODE_API_MODULE(roam_native, initRoamNative)
