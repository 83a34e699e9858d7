#include "napi/vm_events.h"

#include <memory>
#include <mutex>

namespace roam::napi {

namespace {

const char* eventTypeName(vmm::VmEvent::Type t) {
  switch (t) {
    case vmm::VmEvent::Type::Serial: return "serial";
    case vmm::VmEvent::Type::Reset: return "reset";
    case vmm::VmEvent::Type::Shutdown: return "shutdown";
    case vmm::VmEvent::Type::Error: return "error";
  }
  return "error";
}

struct QueuedEvent {
  vmm::VmEvent event;
  uint64_t seq;
};

void deliverEvent(Napi::Env env, Napi::Function callback, QueuedEvent* raw) {
  std::unique_ptr<QueuedEvent> queued(raw);
  if (!env || !callback) return;
  const vmm::VmEvent* event = &queued->event;
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("type", eventTypeName(event->type));
  obj.Set("seq", Napi::Number::New(env, static_cast<double>(queued->seq)));
  if (event->type == vmm::VmEvent::Type::Serial) {
    obj.Set("data", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(event->data.data()), event->data.size()));
  } else if (event->type == vmm::VmEvent::Type::Error) {
    obj.Set("message", event->data);
  } else if (!event->data.empty()) {
    obj.Set("detail", event->data);
  }
  try {
    callback.Call({obj});
  } catch (const Napi::Error& e) {
    // The listener threw: surface it like any other uncaught exception from an event handler.
    e.ThrowAsJavaScriptException();
  }
}

}  // namespace

vmm::EventSink eventSink(Napi::ThreadSafeFunction tsfn, EventCounter counter) {
  return [tsfn, counter](vmm::VmEvent event) mutable {
    // Numbered and queued under one order: the sink is called from several threads, and a
    // number must never be queued after a higher one.
    static std::mutex order;
    std::lock_guard<std::mutex> lock(order);
    const uint64_t seq = counter->load() + 1;
    auto* heap = new QueuedEvent{std::move(event), seq};
    if (tsfn.NonBlockingCall(heap, deliverEvent) != napi_ok) {
      delete heap;  // closing: nobody to tell
      return;
    }
    counter->store(seq);  // not heap->seq: the JS thread may already have consumed and freed it
  };
}

}  // namespace roam::napi
