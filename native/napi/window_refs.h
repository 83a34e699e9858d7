// The guest-RAM windows handed to JS (external ArrayBuffers over a mapping), per slot, kept so
// that they can be detached before the mapping goes: after that no JS view can reach the pages.
#pragma once
#include <napi.h>

#include <cstdint>
#include <map>
#include <vector>

namespace roam::napi {

using WindowRefs = std::map<uint32_t, std::vector<Napi::Reference<Napi::ArrayBuffer>>>;

// Detaches every window still alive and forgets them all.
inline void detachWindows(WindowRefs& windows) {
  for (auto& [slot, refs] : windows) {
    for (auto& ref : refs) {
      if (!ref.IsEmpty()) {
        Napi::ArrayBuffer ab = ref.Value();
        if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
      }
      ref.Reset();
    }
  }
  windows.clear();
}

}  // namespace roam::napi
