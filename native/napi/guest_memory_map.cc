// The JS object behind GuestMemoryMapping (native/index.ts). Windows are created once per slot
// (V8 must not see the same memory registered twice) and each holds the mapping alive, so a view
// that outlives a forgotten close() stays valid; close() detaches every window (views read as
// empty from then on) and unmaps at once, so an agent that migrates many VMs does not leak
// address space waiting for the garbage collector.
#include "napi/guest_memory_map.h"

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "memory/foreign_mapping.h"
#include "napi/args.h"
#include "napi/window_refs.h"

namespace roam::napi {

namespace {

constexpr uint64_t kWindowBytes = 1ull << 30;        // Node 20 caps one ArrayBuffer; same windows as NativeVm
constexpr uint32_t kMaxSlots = 32;                   // as many as a migration hello may declare
constexpr uint64_t kMaxMappedBytes = 1ull << 40;     // 1 TiB, the hello's memory bound

struct SlotSpan {
  uint32_t slot;
  uint64_t size;
  uint64_t memfdOffset;
};

class MappedGuestMemory : public Napi::ObjectWrap<MappedGuestMemory> {
 public:
  static Napi::Function defineClass(Napi::Env env) {
    return DefineClass(env, "GuestMemoryMapping",
                       {InstanceMethod<&MappedGuestMemory::memory>("memory"),
                        InstanceMethod<&MappedGuestMemory::close>("close"),
                        InstanceAccessor<&MappedGuestMemory::bytes>("bytes"),
                        InstanceAccessor<&MappedGuestMemory::closed>("closed")});
  }

  explicit MappedGuestMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappedGuestMemory>(info) {
    Napi::Env env = info.Env();
    std::string path = requireString(info, 0, "mapGuestMemory", "path");
    if (info.Length() < 2 || !info[1].IsArray()) {
      throw Napi::TypeError::New(env, "mapGuestMemory: slots must be an array like [{ slot: 0, size: 134217728, memfdOffset: 0 }]");
    }
    Napi::Array arr = info[1].As<Napi::Array>();
    if (arr.Length() == 0 || arr.Length() > kMaxSlots) {
      throw Napi::RangeError::New(env, "mapGuestMemory: between 1 and " + std::to_string(kMaxSlots) + " slots, got " +
                                           std::to_string(arr.Length()));
    }
    uint64_t end = 0;
    std::set<uint32_t> seen;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) throw Napi::TypeError::New(env, "mapGuestMemory: slots[" + std::to_string(i) + "] must be an object");
      Napi::Object o = v.As<Napi::Object>();
      std::string at = "mapGuestMemory: slots[" + std::to_string(i) + "].";
      uint64_t slot = requireSafeInteger(env, o.Get("slot"), at + "slot");
      uint64_t size = requireSafeInteger(env, o.Get("size"), at + "size");
      uint64_t off = requireSafeInteger(env, o.Get("memfdOffset"), at + "memfdOffset");
      if (slot > 0xffff || !seen.insert(uint32_t(slot)).second) {
        throw Napi::RangeError::New(env, at + "slot " + std::to_string(slot) + " is out of range or repeated");
      }
      if (size == 0 || size % 4096 != 0 || off % 4096 != 0 || size > kMaxMappedBytes || off > kMaxMappedBytes - size) {
        throw Napi::RangeError::New(env, at + "size/memfdOffset must be page multiples (size > 0) within 1 TiB");
      }
      end = std::max(end, off + size);
      spans_.push_back(SlotSpan{uint32_t(slot), size, off});
    }
    try {
      map_ = std::make_shared<memory::ForeignMapping>(path, end);
    } catch (const std::invalid_argument& e) {
      throw Napi::RangeError::New(env, e.what());
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

 private:
  Napi::Value bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(map_ ? map_->size() : 0)); }
  Napi::Value closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !map_); }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t slot = requireUint32(info, 0, "GuestMemoryMapping.memory", "slot");
    if (!map_) throw Napi::Error::New(env, "GuestMemoryMapping.memory: the mapping is closed");
    const SlotSpan* s = nullptr;
    for (const auto& span : spans_)
      if (span.slot == slot) s = &span;
    if (!s) throw Napi::RangeError::New(env, "GuestMemoryMapping.memory: slot " + std::to_string(slot) + " is not mapped");
    auto& refs = windows_[slot];
    if (refs.empty()) {
      for (uint64_t off = 0; off < s->size; off += kWindowBytes) {
        uint64_t len = s->size - off < kWindowBytes ? s->size - off : kWindowBytes;
        auto* hold = new std::shared_ptr<memory::ForeignMapping>(map_);
        Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
            env, map_->base() + s->memfdOffset + off, len,
            [](Napi::Env, void*, std::shared_ptr<memory::ForeignMapping>* h) { delete h; }, hold);
        refs.push_back(Napi::Persistent(ab));
      }
    }
    Napi::Array out = Napi::Array::New(env, refs.size());
    for (uint32_t i = 0; i < refs.size(); ++i) out.Set(i, refs[i].Value());
    return out;
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    detachWindows(windows_);
    // Every JS view is detached now, so nothing can reach the pages: unmap without waiting for GC.
    if (map_) map_->unmap();
    map_.reset();
    return info.Env().Undefined();
  }

  std::vector<SlotSpan> spans_;
  std::shared_ptr<memory::ForeignMapping> map_;
  WindowRefs windows_;
};

Napi::Value mapGuestMemory(const Napi::CallbackInfo& info) {
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  Napi::Env env = info.Env();
  return ctor->New({info.Length() > 0 ? info[0] : env.Undefined(), info.Length() > 1 ? info[1] : env.Undefined()});
}

}  // namespace

void registerGuestMemoryMap(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(MappedGuestMemory::defineClass(env)));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("mapGuestMemory", Napi::Function::New(env, mapGuestMemory, "mapGuestMemory", ctor));
}

}  // namespace roam::napi
