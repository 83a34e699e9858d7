// A device whose registers are part of the machine state: it serialises itself into a DeviceBlob
// (its own versioned format) and restores from one. Restore rejects blobs it does not understand.
#pragma once
#include "state/machine_state.h"

namespace roam::devices {

class StatefulDevice {
 public:
  virtual ~StatefulDevice() = default;
  virtual state::DeviceBlob saveState() const = 0;
  // Throws std::runtime_error with a clear message for a wrong version or length.
  virtual void restoreState(const state::DeviceBlob& blob) = 0;
};

}  // namespace roam::devices
