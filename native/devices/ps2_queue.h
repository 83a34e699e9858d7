// A bounded byte FIFO between a PS/2 device and the i8042: what the device has said that the guest
// has not read yet. Writes are all-or-nothing (a scancode sequence or a mouse packet is never cut in
// half, which would desynchronise the guest's parser); what does not fit is dropped and counted.
// Not thread-safe: the i8042 holds its lock around every use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>

namespace roam::devices {

class Ps2Queue {
 public:
  static constexpr size_t kLimit = 256;

  bool empty() const { return bytes_.empty(); }
  size_t size() const { return bytes_.size(); }
  uint32_t dropped() const { return dropped_; }
  const std::deque<uint8_t>& bytes() const { return bytes_; }

  // Appends all of [data, data+len) or, when it does not fit, none of it (counted as dropped).
  bool push(const uint8_t* data, size_t len) {
    if (len > kLimit - bytes_.size()) {
      dropped_ += uint32_t(len);
      return false;
    }
    bytes_.insert(bytes_.end(), data, data + len);
    return true;
  }
  bool push(uint8_t b) { return push(&b, 1); }
  void countDropped(uint32_t n) { dropped_ += n; }
  uint8_t pop() {
    uint8_t b = bytes_.front();
    bytes_.pop_front();
    return b;
  }
  void clear() { bytes_.clear(); }
  // For restore: the caller has checked len <= kLimit.
  void assign(const uint8_t* data, size_t len, uint32_t dropped) {
    bytes_.assign(data, data + len);
    dropped_ = dropped;
  }

 private:
  std::deque<uint8_t> bytes_;
  uint32_t dropped_ = 0;
};

}  // namespace roam::devices
