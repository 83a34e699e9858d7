#include "devices/framebuffer.h"

namespace roam::devices {

void Framebuffer::absorb(const uint64_t* bits, size_t words) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = words < kWords ? words : kWords;
  for (size_t i = 0; i < n; ++i) {
    migration_[i] |= bits[i];
    display_[i] |= bits[i];
  }
}

void Framebuffer::takeMigration(uint64_t* out, bool clear) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < kWords; ++i) {
    out[i] |= migration_[i];
    if (clear) migration_[i] = 0;
  }
}

void Framebuffer::takeDisplay(uint64_t* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < kWords; ++i) {
    out[i] |= display_[i];
    display_[i] = 0;
  }
}

}  // namespace roam::devices
