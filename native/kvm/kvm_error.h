// Errors from the KVM layer: every failed ioctl becomes a KvmError naming the operation and errno,
// so a caller (and finally JS) sees e.g. "KVM_CREATE_VM failed: Cannot allocate memory (errno 12)".
#pragma once
#include <stdexcept>
#include <string>

namespace roam::kvm {

class KvmError : public std::runtime_error {
 public:
  KvmError(const std::string& operation, int err);
  // Adds what the user can do about it: "<operation> failed: <strerror> (errno N); <hint>".
  KvmError(const std::string& operation, int err, const std::string& hint);
  int code() const { return err_; }

 private:
  int err_;
};

// Throws KvmError for `operation` with the current errno.
[[noreturn]] void throwErrno(const std::string& operation);

}  // namespace roam::kvm
