// describeState(buf) and prepareBzImage(kernel, cmdline, initrd, memBytes) on the addon's exports.
// Neither touches KVM: the first validates a saved state, the second runs the bzImage loader into
// scratch guest memory so the loader can be tested where stock kernels cannot boot.
#include "state_bindings.h"

#include <stdexcept>

#include "arch/x86_64/bzimage.h"
#include "arch/x86_64/e820_layout.h"
#include "memory/guest_memory.h"
#include "napi/args.h"
#include "state/machine_state.h"

namespace roam::napi {
namespace {

constexpr uint64_t kZeroPageBytes = 4096;
constexpr uint64_t kScratchAlign = 2ull << 20;

Napi::Value describeState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes state = requireBytes(info, 0, "describeState", "state");
  state::Summary s;
  try {
    s = state::describe(state.data, state.length);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("major", Napi::Number::New(env, s.major));
  out.Set("minor", Napi::Number::New(env, s.minor));
  Napi::Array sections = Napi::Array::New(env, s.sections.size());
  for (size_t i = 0; i < s.sections.size(); i++) {
    Napi::Object sec = Napi::Object::New(env);
    sec.Set("name", Napi::String::New(env, s.sections[i].name));
    sec.Set("version", Napi::Number::New(env, s.sections[i].version));
    sec.Set("length", Napi::Number::New(env, double(s.sections[i].length)));
    sections.Set(uint32_t(i), sec);
  }
  out.Set("sections", sections);
  return out;
}

// The JS BzImageSetup (native/index.ts) for what the loader prepared in `lowRam`.
Napi::Object bzImageSetupObject(Napi::Env env, const x86::BzImageResult& r, const uint8_t* lowRam,
                                const std::vector<x86::E820Entry>& e820) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("zeroPage", Napi::Buffer<uint8_t>::Copy(env, lowRam + r.zeroPageAddr, kZeroPageBytes));
  Napi::Array map = Napi::Array::New(env, e820.size());
  for (size_t i = 0; i < e820.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("addr", Napi::Number::New(env, double(e820[i].addr)));
    e.Set("size", Napi::Number::New(env, double(e820[i].size)));
    e.Set("type", Napi::Number::New(env, e820[i].type));
    map.Set(uint32_t(i), e);
  }
  out.Set("e820", map);
  auto num = [&](const char* key, uint64_t v) { out.Set(key, Napi::Number::New(env, double(v))); };
  num("pageTableAddr", r.pageTableAddr);
  num("gdtAddr", r.gdtAddr);
  num("stackTop", r.stackTop);
  num("zeroPageAddr", r.zeroPageAddr);
  num("cmdlineAddr", r.cmdlineAddr);
  num("kernelAddr", r.kernelAddr);
  num("initrdAddr", r.initrdAddr);
  num("initrdSize", r.initrdSize);
  num("entry", r.entry);
  num("rsi", r.zeroPageAddr);
  return out;
}

Napi::Value prepareBzImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes kernel = requireBytes(info, 0, "prepareBzImage", "kernel");
  std::string cmdline = requireString(info, 1, "prepareBzImage", "cmdline");
  Bytes initrd = optionalBytes(info, 2, "prepareBzImage", "initrd");
  if (info.Length() < 4) throw Napi::TypeError::New(env, "prepareBzImage: memBytes (argument 4) is missing");
  uint64_t memBytes = requireSafeInteger(env, info[3], "prepareBzImage: memBytes");
  if (memBytes == 0 || memBytes % kScratchAlign != 0 || memBytes > memory::kLowRamLimit)
    throw Napi::RangeError::New(env, "prepareBzImage: memBytes must be a multiple of 2 MiB between 2 MiB and 3 GiB, got " +
                                         std::to_string(memBytes));
  try {
    // Scratch guest RAM laid out exactly as a VM's (memfd pages are only backed where written), so
    // the memory map is the one x86::e820Layout gives a real VM of this size.
    memory::GuestMemory ram(memBytes);
    const memory::RamSlot& low = ram.slots().front();
    std::vector<x86::E820Entry> e820 = x86::e820Layout(ram);
    x86::BzImageResult r = x86::loadBzImage(ram.slotHost(low), low.size, kernel.data, kernel.length, cmdline,
                                            initrd.data, initrd.length, e820);
    return bzImageSetupObject(env, r, ram.slotHost(low), e820);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace

void registerStateBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("describeState", Napi::Function::New(env, describeState, "describeState"));
  exports.Set("prepareBzImage", Napi::Function::New(env, prepareBzImage, "prepareBzImage"));
}

}  // namespace roam::napi
