// mapGuestMemory(path, slots): guest RAM of a VM in another process (its memfd, opened through
// /proc/<pid>/fd/<n>) as external ArrayBuffer windows in this process. See native/index.ts.
#pragma once
#include <napi.h>

namespace roam::napi {
void registerGuestMemoryMap(Napi::Env env, Napi::Object exports);
}
