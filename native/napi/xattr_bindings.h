// readXattrs / writeXattrs on the addon's exports (host/xattr.h behind them).
#pragma once
#include <napi.h>

namespace roam::napi {
void registerXattrBindings(Napi::Env env, Napi::Object exports);
}
