// The shape of a VM and the checks that keep a bad request from ever reaching KVM.
#pragma once
#include <cstdint>

namespace roam::vmm {

constexpr uint64_t kMemAlignment = 2ull << 20;  // 2 MiB
constexpr uint32_t kMaxVcpus = 64;

struct VmConfig {
  uint64_t memBytes = 0;
  uint32_t vcpus = 1;
  bool display = true;  // a linear framebuffer (devices/framebuffer.h) in slot 2
};

uint64_t hostRamBytes();
// Throws std::invalid_argument naming the field, the value and what is allowed.
void validateConfig(const VmConfig& config);

}  // namespace roam::vmm
