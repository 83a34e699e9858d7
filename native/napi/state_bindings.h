// Contract: the state layer's free functions on the addon's exports (describeState, prepareBzImage).
// Defined in napi/state_bindings.cc; the module init in napi/ calls this once.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "arch/x86_64/bzimage.h"

namespace roam::napi {
void registerStateBindings(Napi::Env env, Napi::Object exports);

// The JS BzImageSetup (native/index.ts) for what loadBzImage prepared in `lowRam` (the RAM slot at
// guest-physical 0): copies the 4 KiB zero page out. Shared by prepareBzImage and NativeVm.loadBzImage.
Napi::Object bzImageSetupObject(Napi::Env env, const x86::BzImageResult& result, const uint8_t* lowRam,
                                const std::vector<x86::E820Entry>& e820);
}
