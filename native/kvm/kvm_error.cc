#include "kvm/kvm_error.h"

#include <cerrno>
#include <cstring>

namespace roam::kvm {

static std::string describe(const std::string& operation, int err) {
  return operation + " failed: " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
}

KvmError::KvmError(const std::string& operation, int err)
    : std::runtime_error(describe(operation, err)), err_(err) {}

KvmError::KvmError(const std::string& operation, int err, const std::string& hint)
    : std::runtime_error(describe(operation, err) + (hint.empty() ? "" : "; " + hint)), err_(err) {}

void throwErrno(const std::string& operation) { throw KvmError(operation, errno); }

}  // namespace roam::kvm
