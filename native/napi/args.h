// Argument checks for the bindings: each returns the value or throws a Napi::TypeError/RangeError
// that names the method, the argument and what was expected.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace roam::napi {

struct Bytes {
  const uint8_t* data;
  size_t length;
};

// A Buffer or any Uint8Array.
Bytes requireBytes(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
// Same, or null/undefined (returns {nullptr, 0}).
Bytes optionalBytes(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
std::string requireString(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
uint32_t requireUint32(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
double requireNumber(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
bool requireBool(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name);
// A non-negative integer no larger than 2^53 from an object property (for byte counts).
uint64_t requireSafeInteger(Napi::Env env, const Napi::Value& value, const std::string& what);

}  // namespace roam::napi
