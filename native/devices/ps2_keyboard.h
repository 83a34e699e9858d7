// A PS/2 keyboard behind the i8042: the commands a driver sends it (reset, enable/disable scanning,
// LEDs, typematic rate, scancode set, identify, echo) and the keys the host types, which it queues
// as set 2 -- or as set 1 when the controller translates (command-byte bit 6) or the guest chose
// set 1. Not thread-safe: the i8042 calls it under its lock.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devices/ps2_queue.h"

namespace roam::devices {

class Ps2Keyboard {
 public:
  static constexpr size_t kMaxInput = 64;  // set 2 bytes per host call

  Ps2Queue& queue() { return queue_; }
  const Ps2Queue& queue() const { return queue_; }

  // A byte the guest wrote to the keyboard (port 0x60 with no controller command pending).
  // `translated` says whether the controller translates, which changes the scancode-set answer.
  void command(uint8_t value, bool translated);
  // Host keys as set 2 (at most kMaxInput bytes: the caller checks). Dropped while scanning is off.
  void type(const uint8_t* set2, size_t len, bool translate);

  void save(std::vector<uint8_t>& out) const;
  // Reads what save() wrote from [p, end); returns the position after it or throws std::runtime_error.
  const uint8_t* restore(const uint8_t* p, const uint8_t* end);
  void reset();

 private:
  Ps2Queue queue_;
  bool scanning_ = true;
  uint8_t scancodeSet_ = 2;
  uint8_t pendingArg_ = 0;   // ED, F3 or F0: a command whose argument byte comes next
  uint8_t leds_ = 0;
  uint8_t typematic_ = 0x2B; // 10.9 characters/s after 500 ms: the power-on default
  bool breakPending_ = false;  // translating: a set 2 F0 arrived, the next code is a release
};

}  // namespace roam::devices
