#include "napi/xattr_bindings.h"

#include <stdexcept>

#include "host/xattr.h"

namespace roam::napi {

namespace {

std::string pathArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must be a string");
  return info[0].As<Napi::String>().Utf8Value();
}

// readXattrs(path) → [[name, Buffer], ...] sorted by name (user.* only).
Napi::Value readXattrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = pathArg(info, "readXattrs");
  std::vector<host::Xattr> attrs;
  try {
    attrs = host::readUserXattrs(path);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Array out = Napi::Array::New(env, attrs.size());
  for (uint32_t i = 0; i < attrs.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, attrs[i].first);
    pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, attrs[i].second.data(), attrs[i].second.size()));
    out.Set(i, pair);
  }
  return out;
}

// writeXattrs(path, [[name, Uint8Array], ...]): the path's user.* attributes become exactly these.
Napi::Value writeXattrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = pathArg(info, "writeXattrs");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "writeXattrs: attributes must be an array of [name, bytes]");
  Napi::Array list = info[1].As<Napi::Array>();
  if (list.Length() > host::kMaxXattrs) throw Napi::RangeError::New(env, "writeXattrs: too many attributes");
  std::vector<host::Xattr> attrs;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2) throw Napi::TypeError::New(env, "writeXattrs: each attribute is [name, bytes]");
    Napi::Array pair = item.As<Napi::Array>();
    if (!pair.Get(0u).IsString() || !pair.Get(1u).IsTypedArray()) throw Napi::TypeError::New(env, "writeXattrs: each attribute is [string, Uint8Array]");
    Napi::Uint8Array bytes = pair.Get(1u).As<Napi::Uint8Array>();
    attrs.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), std::vector<uint8_t>(bytes.Data(), bytes.Data() + bytes.ByteLength()));
  }
  try {
    host::writeUserXattrs(path, attrs);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, std::string("writeXattrs: ") + e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return env.Undefined();
}

}  // namespace

void registerXattrBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("readXattrs", Napi::Function::New(env, readXattrs, "readXattrs"));
  exports.Set("writeXattrs", Napi::Function::New(env, writeXattrs, "writeXattrs"));
}

}  // namespace roam::napi
