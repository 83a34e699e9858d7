#include "napi/native_vm.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "arch/x86_64/e820_layout.h"
#include "napi/args.h"
#include "napi/vm_events.h"

namespace roam::napi {

namespace {

constexpr uint64_t kWindowBytes = 1ull << 30;  // Node 20 caps one ArrayBuffer; 1 GiB keeps well under

// Runs `body`, turning C++ failures into JS Errors with the message intact.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

vmm::VmConfig parseConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "createVm: config must be an object like { memBytes: 268435456, vcpus: 1 }");
  }
  Napi::Object cfg = info[0].As<Napi::Object>();
  vmm::VmConfig config;
  config.memBytes = requireSafeInteger(env, cfg.Get("memBytes"), "createVm: config.memBytes");
  Napi::Value vcpus = cfg.Get("vcpus");
  if (!vcpus.IsUndefined()) {
    uint64_t n = requireSafeInteger(env, vcpus, "createVm: config.vcpus");
    if (n < 1 || n > vmm::kMaxVcpus) {
      throw Napi::RangeError::New(env, "createVm: config.vcpus " + std::to_string(n) + " is out of range (1.." +
                                           std::to_string(vmm::kMaxVcpus) + ")");
    }
    config.vcpus = uint32_t(n);
  }
  Napi::Value display = cfg.Get("display");
  if (!display.IsUndefined()) {
    if (!display.IsBoolean()) throw Napi::TypeError::New(env, "createVm: config.display must be a boolean (default true)");
    config.display = display.As<Napi::Boolean>().Value();
  }
  return config;
}

Napi::Object bzImageObject(Napi::Env env, vmm::Vm& vm, const x86::BzImageResult& r) {
  auto mem = vm.guestMemory();
  Napi::Object o = Napi::Object::New(env);
  const uint8_t* zp = mem->translate(r.zeroPageAddr, 4096);
  o.Set("zeroPage", zp ? Napi::Buffer<uint8_t>::Copy(env, zp, 4096) : Napi::Buffer<uint8_t>::New(env, 0));
  Napi::Array e820 = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& e : x86::e820Layout(*mem)) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("addr", double(e.addr));
    entry.Set("size", double(e.size));
    entry.Set("type", e.type);
    e820.Set(i++, entry);
  }
  o.Set("e820", e820);
  o.Set("pageTableAddr", double(r.pageTableAddr));
  o.Set("gdtAddr", double(r.gdtAddr));
  o.Set("stackTop", double(r.stackTop));
  o.Set("zeroPageAddr", double(r.zeroPageAddr));
  o.Set("cmdlineAddr", double(r.cmdlineAddr));
  o.Set("kernelAddr", double(r.kernelAddr));
  o.Set("initrdAddr", double(r.initrdAddr));
  o.Set("initrdSize", double(r.initrdSize));
  o.Set("entry", double(r.entry));
  o.Set("rsi", double(r.zeroPageAddr));
  return o;
}

}  // namespace

Napi::Function NativeVm::defineClass(Napi::Env env) {
  return DefineClass(env, "NativeVm",
                     {
                         InstanceAccessor<&NativeVm::memBytes>("memBytes"),
                         InstanceAccessor<&NativeVm::vcpus>("vcpus"),
                         InstanceMethod<&NativeVm::slots>("slots"),
                         InstanceMethod<&NativeVm::loadMultiboot>("loadMultiboot"),
                         InstanceMethod<&NativeVm::loadBzImage>("loadBzImage"),
                         InstanceMethod<&NativeVm::start>("start"),
                         InstanceMethod<&NativeVm::pause>("pause"),
                         InstanceMethod<&NativeVm::resume>("resume"),
                         InstanceMethod<&NativeVm::isRunning>("isRunning"),
                         InstanceMethod<&NativeVm::memory>("memory"),
                         InstanceMethod<&NativeVm::dirtyLog>("dirtyLog"),
                         InstanceMethod<&NativeVm::display>("display"),
                         InstanceMethod<&NativeVm::displayDamage>("displayDamage"),
                         InstanceMethod<&NativeVm::keyboardInput>("keyboardInput"),
                         InstanceMethod<&NativeVm::mouseInput>("mouseInput"),
                         InstanceMethod<&NativeVm::ioForTest>("ioForTest"),
                         InstanceMethod<&NativeVm::setThrottle>("setThrottle"),
                         InstanceMethod<&NativeVm::saveState>("saveState"),
                         InstanceMethod<&NativeVm::restoreState>("restoreState"),
                         InstanceMethod<&NativeVm::memfd>("memfd"),
                         InstanceMethod<&NativeVm::unknownPorts>("unknownPorts"),
                         InstanceMethod<&NativeVm::close>("close"),
                     });
}

NativeVm::NativeVm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeVm>(info) {
  Napi::Env env = info.Env();
  vmm::VmConfig config = parseConfig(info);
  if (info.Length() < 2 || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "createVm: onEvent must be a function (event) => void");
  }
  events_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "roam-vm-events", 0, 1);
  eventsLive_ = true;
  // The VM process's own IPC keeps Node alive; a forgotten VM must not.
  events_.Unref(env);
  vmm::EventSink sink = eventSink(events_, eventsQueued_);
  try {
    vm_ = std::make_unique<vmm::Vm>(config, sink);
  } catch (const std::invalid_argument& e) {
    shutdown();
    throw Napi::RangeError::New(env, std::string("createVm: ") + e.what());
  } catch (const std::exception& e) {
    shutdown();
    throw Napi::Error::New(env, std::string("createVm: ") + e.what());
  }
  memBytes_ = config.memBytes;
  vcpus_ = config.vcpus;
}

NativeVm::~NativeVm() {
  // Collected without close(): stop the threads and let go of the TSFN. Windows hold their own
  // reference to the mapping, so a view that is still reachable stays valid.
  if (vm_) vm_->close();
  vm_.reset();
  if (eventsLive_) {
    events_.Release();
    eventsLive_ = false;
  }
}

void NativeVm::shutdown() {
  if (vm_) vm_->close();  // joins vCPU threads: no event can be produced after this
  detachWindows(windows_);
  vm_.reset();
  if (eventsLive_) {
    events_.Release();
    eventsLive_ = false;
  }
}

vmm::Vm& NativeVm::vm(const char* method) {
  if (!vm_) throw Napi::Error::New(Env(), std::string(method) + ": the VM is closed");
  return *vm_;
}

Napi::Value NativeVm::memBytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(memBytes_)); }
Napi::Value NativeVm::vcpus(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), vcpus_); }

Napi::Value NativeVm::slots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& s : vm("slots").slots()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("slot", s.slot);
    o.Set("guestPhysAddr", double(s.guestPhys));
    o.Set("size", double(s.size));
    o.Set("memfdOffset", double(s.memfdOffset));
    o.Set("kind", s.kind == memory::SlotKind::Framebuffer ? "framebuffer" : "ram");
    out.Set(i++, o);
  }
  return out;
}

Napi::Value NativeVm::loadMultiboot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes kernel = requireBytes(info, 0, "loadMultiboot", "kernel");
  std::string cmdline = requireString(info, 1, "loadMultiboot", "cmdline");
  return guarded(env, [&]() -> Napi::Value {
    x86::MultibootLoad load;
    try {
      load = vm("loadMultiboot").loadMultiboot(kernel.data, kernel.length, cmdline);
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(env, std::string("loadMultiboot: ") + e.what());
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("entry", double(load.entry));
    o.Set("cmdline", cmdline);
    o.Set("loadEnd", double(load.loadEnd));
    return o;
  });
}

Napi::Value NativeVm::loadBzImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes kernel = requireBytes(info, 0, "loadBzImage", "kernel");
  std::string cmdline = requireString(info, 1, "loadBzImage", "cmdline");
  Bytes initrd = optionalBytes(info, 2, "loadBzImage", "initrd");
  return guarded(env, [&]() -> Napi::Value {
    vmm::Vm& v = vm("loadBzImage");
    x86::BzImageResult r;
    try {
      r = v.loadBzImage(kernel.data, kernel.length, cmdline, initrd.data, initrd.length);
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(env, std::string("loadBzImage: ") + e.what());
    }
    return bzImageObject(env, v, r);
  });
}

Napi::Value NativeVm::start(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    vm("start").start();
    return info.Env().Undefined();
  });
}

Napi::Value NativeVm::pause(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    vm("pause").pause();
    // Every event the paused VM will ever report is queued by now; this is the last one's number.
    return Napi::Number::New(info.Env(), static_cast<double>(eventsQueued_->load()));
  });
}

Napi::Value NativeVm::resume(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    vm("resume").resume();
    return info.Env().Undefined();
  });
}

Napi::Value NativeVm::isRunning(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), vm_ && vm_->isRunning());
}

Napi::Value NativeVm::memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot = requireUint32(info, 0, "memory", "slot");
  vmm::Vm& v = vm("memory");
  auto mem = v.guestMemory();
  const memory::RamSlot* s = mem->findSlot(slot);
  if (!s) {
    throw Napi::RangeError::New(env, "memory: no RAM slot " + std::to_string(slot) + " (this VM has slots " +
                                         mem->slotNames() + ")");
  }
  auto& refs = windows_[slot];
  if (refs.empty()) {
    // One external ArrayBuffer per window, created once: V8 must not see the same memory registered
    // twice, and callers get stable objects. Each holds the mapping alive until it is collected.
    for (uint64_t off = 0; off < s->size; off += kWindowBytes) {
      uint64_t len = s->size - off < kWindowBytes ? s->size - off : kWindowBytes;
      auto* hold = new std::shared_ptr<memory::GuestMemory>(mem);
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, mem->slotHost(*s) + off, len,
          [](Napi::Env, void*, std::shared_ptr<memory::GuestMemory>* h) { delete h; }, hold);
      refs.push_back(Napi::Persistent(ab));
    }
  }
  Napi::Array out = Napi::Array::New(env, refs.size());
  for (uint32_t i = 0; i < refs.size(); ++i) out.Set(i, refs[i].Value());
  return out;
}

Napi::Value NativeVm::dirtyLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot = requireUint32(info, 0, "dirtyLog", "slot");
  Napi::Value outArg = info.Length() > 1 ? info[1] : env.Undefined();
  if (!outArg.IsTypedArray() || outArg.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "dirtyLog: out must be a Uint8Array (or Buffer) of ceil(pages/64)*8 bytes");
  }
  bool clear = requireBool(info, 2, "dirtyLog", "clear");
  Napi::Uint8Array out = outArg.As<Napi::Uint8Array>();
  return guarded(env, [&]() -> Napi::Value {
    vmm::Vm& v = vm("dirtyLog");
    size_t words = out.ByteLength() / 8;
    // The caller's bytes need not be 8-byte aligned (Buffer pool slices): fill an aligned copy.
    std::vector<uint64_t> bits(words, 0);
    try {
      v.dirtyLog(slot, bits.data(), words, clear);
    } catch (const std::invalid_argument& e) {
      throw Napi::RangeError::New(env, std::string("dirtyLog: ") + e.what());
    }
    const memory::RamSlot* s = v.guestMemory()->findSlot(slot);
    size_t used = size_t((s->size / memory::kPageSize + 63) / 64) * 8;
    std::memcpy(out.Data(), bits.data(), used);
    return env.Undefined();
  });
}

Napi::Value NativeVm::display(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const memory::RamSlot* s = vm("display").display();
  if (!s) return env.Null();
  using devices::Framebuffer;
  Napi::Object o = Napi::Object::New(env);
  o.Set("slot", s->slot);
  o.Set("guestPhysAddr", double(s->guestPhys));
  o.Set("width", Framebuffer::kWidth);
  o.Set("height", Framebuffer::kHeight);
  o.Set("stride", Framebuffer::kStride);
  return o;
}

Napi::Value NativeVm::displayDamage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  using devices::Framebuffer;
  Napi::Value outArg = info.Length() > 0 ? info[0] : env.Undefined();
  if (!outArg.IsTypedArray() || outArg.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "displayDamage: out must be a Uint8Array of " +
                                        std::to_string(Framebuffer::kDamageBytes) + " bytes (one bit per scanline)");
  }
  Napi::Uint8Array out = outArg.As<Napi::Uint8Array>();
  if (out.ByteLength() < Framebuffer::kDamageBytes) {
    throw Napi::RangeError::New(env, "displayDamage: out holds " + std::to_string(out.ByteLength()) + " bytes; it needs " +
                                         std::to_string(Framebuffer::kDamageBytes));
  }
  return guarded(env, [&]() -> Napi::Value {
    uint64_t bits[Framebuffer::kWords] = {};  // aligned: the caller's bytes need not be
    vm("displayDamage").displayDamage(bits, Framebuffer::kWords);
    std::memcpy(out.Data(), bits, Framebuffer::kDamageBytes);
    return env.Undefined();
  });
}

Napi::Value NativeVm::keyboardInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes set2 = requireBytes(info, 0, "keyboardInput", "set2");
  if (set2.length > devices::Ps2Keyboard::kMaxInput) {
    throw Napi::RangeError::New(env, "keyboardInput: at most " + std::to_string(devices::Ps2Keyboard::kMaxInput) +
                                         " scancode bytes per call, got " + std::to_string(set2.length));
  }
  return guarded(env, [&]() -> Napi::Value {
    vm("keyboardInput").keyboardInput(set2.data, set2.length);
    return env.Undefined();
  });
}

Napi::Value NativeVm::mouseInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto delta = [&](size_t index, const char* name) {
    double d = requireNumber(info, index, "mouseInput", name);
    if (std::floor(d) != d || d < -2147483648.0 || d > 2147483647.0) {
      throw Napi::RangeError::New(env, std::string("mouseInput: ") + name + " must be an integer (pixels), got " +
                                           std::to_string(d));
    }
    return int32_t(d);
  };
  int32_t dx = delta(0, "dx"), dy = delta(1, "dy");
  uint32_t buttons = requireUint32(info, 2, "mouseInput", "buttons");
  if (buttons > 7) {
    throw Napi::RangeError::New(env, "mouseInput: buttons is a mask of bit 0 left, 1 right, 2 middle (0..7), got " +
                                         std::to_string(buttons));
  }
  return guarded(env, [&]() -> Napi::Value {
    vm("mouseInput").mouseInput(dx, dy, uint8_t(buttons));
    return env.Undefined();
  });
}

Napi::Value NativeVm::ioForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t port = requireUint32(info, 0, "ioForTest", "port");
  uint32_t size = requireUint32(info, 1, "ioForTest", "size");
  if (port > 0xFFFF) throw Napi::RangeError::New(env, "ioForTest: port must be 0..65535, got " + std::to_string(port));
  bool write = info.Length() > 2 && !info[2].IsUndefined();
  uint32_t value = write ? requireUint32(info, 2, "ioForTest", "value") : 0;
  return guarded(env, [&]() -> Napi::Value {
    uint32_t r = vm("ioForTest").ioForTest(uint16_t(port), size, write ? &value : nullptr);
    return write ? env.Undefined() : Napi::Number::New(env, r);
  });
}

Napi::Value NativeVm::setThrottle(const Napi::CallbackInfo& info) {
  double share = requireNumber(info, 0, "setThrottle", "share");
  return guarded(info.Env(), [&]() -> Napi::Value {
    vm("setThrottle").setThrottle(share);
    return info.Env().Undefined();
  });
}

Napi::Value NativeVm::saveState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::vector<uint8_t> state = vm("saveState").saveState();
    return Napi::Buffer<uint8_t>::Copy(env, state.data(), state.size());
  });
}

Napi::Value NativeVm::restoreState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes state = requireBytes(info, 0, "restoreState", "state");
  return guarded(env, [&]() -> Napi::Value {
    try {
      vm("restoreState").restoreState(state.data, state.length);
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(env, std::string("restoreState: ") + e.what());
    }
    return env.Undefined();
  });
}

Napi::Value NativeVm::memfd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), vm("memfd").memfd());
}

Napi::Value NativeVm::unknownPorts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [port, count] : vm("unknownPorts").unknownPorts()) o.Set(std::to_string(port), double(count));
  return o;
}

Napi::Value NativeVm::close(const Napi::CallbackInfo& info) {
  shutdown();
  return info.Env().Undefined();
}

}  // namespace roam::napi
