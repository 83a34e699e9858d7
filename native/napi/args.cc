#include "napi/args.h"

#include <cmath>

namespace roam::napi {

namespace {

std::string where(const char* method, const char* name) { return std::string(method) + ": " + name; }

Napi::Value arg(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() ? info[index] : info.Env().Undefined();
}

}  // namespace

Bytes requireBytes(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  Napi::Value v = arg(info, index);
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      auto u8 = v.As<Napi::Uint8Array>();
      return Bytes{u8.Data(), u8.ByteLength()};
    }
  }
  throw Napi::TypeError::New(info.Env(), where(method, name) + " must be a Buffer or Uint8Array");
}

Bytes optionalBytes(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  Napi::Value v = arg(info, index);
  if (v.IsNull() || v.IsUndefined()) return Bytes{nullptr, 0};
  return requireBytes(info, index, method, name);
}

std::string requireString(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  Napi::Value v = arg(info, index);
  if (!v.IsString()) throw Napi::TypeError::New(info.Env(), where(method, name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double requireNumber(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  Napi::Value v = arg(info, index);
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), where(method, name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(info.Env(), where(method, name) + " must be finite");
  return d;
}

uint32_t requireUint32(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  double d = requireNumber(info, index, method, name);
  if (d < 0 || d > 4294967295.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(info.Env(), where(method, name) + " must be a non-negative integer");
  }
  return static_cast<uint32_t>(d);
}

bool requireBool(const Napi::CallbackInfo& info, size_t index, const char* method, const char* name) {
  Napi::Value v = arg(info, index);
  if (!v.IsBoolean()) throw Napi::TypeError::New(info.Env(), where(method, name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

uint64_t requireSafeInteger(Napi::Env env, const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber()) throw Napi::TypeError::New(env, what + " must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d > 9007199254740992.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(env, what + " must be a non-negative integer");
  }
  return static_cast<uint64_t>(d);
}

}  // namespace roam::napi
