#include "memory/dirty_bitmap.h"

namespace roam::memory {

DirtyBitmap::DirtyBitmap(uint64_t pages)
    : pages_(pages), words_((pages + 63) / 64), bits_(new std::atomic<uint64_t>[words_]) {
  for (uint64_t i = 0; i < words_; ++i) bits_[i].store(0, std::memory_order_relaxed);
}

void DirtyBitmap::mark(uint64_t firstPage, uint64_t count) {
  if (firstPage >= pages_) return;
  uint64_t end = count > pages_ - firstPage ? pages_ : firstPage + count;
  for (uint64_t p = firstPage; p < end;) {
    uint64_t word = p / 64, bit = p % 64;
    uint64_t n = end - p < 64 - bit ? end - p : 64 - bit;
    uint64_t maskBits = n == 64 ? ~0ull : ((1ull << n) - 1) << bit;
    bits_[word].fetch_or(maskBits, std::memory_order_release);
    p += n;
  }
}

void DirtyBitmap::markAll() { mark(0, pages_); }

void DirtyBitmap::collect(uint64_t* out, bool clear) {
  for (uint64_t i = 0; i < words_; ++i) {
    out[i] |= clear ? bits_[i].exchange(0, std::memory_order_acq_rel) : bits_[i].load(std::memory_order_acquire);
  }
}

}  // namespace roam::memory
