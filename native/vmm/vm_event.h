// What the VM reports to its owner (delivered to JS by napi/ through a thread-safe function).
#pragma once
#include <functional>
#include <string>

namespace roam::vmm {

struct VmEvent {
  enum class Type { Serial, Reset, Shutdown, Error };
  Type type;
  std::string data;  // serial bytes, or the error message
};

// Called from vCPU threads and the VM's housekeeping thread; must not block.
using EventSink = std::function<void(VmEvent)>;

}  // namespace roam::vmm
