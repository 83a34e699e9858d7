// VM events from native threads to the JS callback, through a thread-safe function: the sink never
// blocks a vCPU (the queue is unbounded: a vCPU must not wait on a JS thread that may itself be
// waiting in pause() for that vCPU to park).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "vmm/vm_event.h"

namespace roam::napi {

// Numbers events in the order they are queued. pause() reports the number of the last one queued,
// so the owner can wait until it has seen that one: no serial byte emitted before a pause is
// still in flight when the owner acts on the pause (e.g. saves the VM and kills this process).
using EventCounter = std::shared_ptr<std::atomic<uint64_t>>;

// A sink that queues each event for `tsfn`'s callback as { type, seq, data | message | detail }.
vmm::EventSink eventSink(Napi::ThreadSafeFunction tsfn, EventCounter counter);

}  // namespace roam::napi
