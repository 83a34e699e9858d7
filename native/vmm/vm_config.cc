#include "vmm/vm_config.h"

#include <unistd.h>

#include <stdexcept>
#include <string>

namespace roam::vmm {

uint64_t hostRamBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

void validateConfig(const VmConfig& config) {
  if (config.memBytes == 0) throw std::invalid_argument("memBytes must be greater than 0 (guest RAM in bytes, a multiple of 2 MiB)");
  if (config.memBytes % kMemAlignment != 0) {
    throw std::invalid_argument("memBytes " + std::to_string(config.memBytes) + " is not a multiple of 2 MiB (2097152)");
  }
  uint64_t host = hostRamBytes();
  if (host && config.memBytes > host) {
    throw std::invalid_argument("guest memory " + std::to_string(config.memBytes) + " exceeds host RAM " + std::to_string(host));
  }
  if (config.vcpus < 1 || config.vcpus > kMaxVcpus) {
    throw std::invalid_argument("vcpus " + std::to_string(config.vcpus) + " is out of range (1.." + std::to_string(kMaxVcpus) + ")");
  }
}

}  // namespace roam::vmm
