// Contract: the state layer's free functions on the addon's exports (describeState, prepareBzImage).
// Defined in napi/state_bindings.cc; the module init in napi/ calls this once.
#pragma once
#include <napi.h>

namespace roam::napi {
void registerStateBindings(Napi::Env env, Napi::Object exports);
}
