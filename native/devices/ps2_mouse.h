// A PS/2 mouse on the i8042's aux port: the commands a driver sends it (reset, reporting on/off,
// defaults, sample rate, resolution, scaling, stream/remote/wrap mode, identify, status) and the
// host's motion, queued as standard 3-byte packets while reporting is on. Not thread-safe: the
// i8042 calls it under its lock.
#pragma once
#include <cstdint>
#include <vector>

#include "devices/ps2_queue.h"

namespace roam::devices {

class Ps2Mouse {
 public:
  static constexpr int32_t kMaxStep = 255;       // one packet's delta per axis (9-bit two's complement)
  static constexpr int32_t kMaxMove = 16 * 255;  // a host call moves at most this far per axis

  Ps2Queue& queue() { return queue_; }
  const Ps2Queue& queue() const { return queue_; }

  // A byte the guest sent through controller command 0xD4.
  void command(uint8_t value);
  // Host motion: dx right-positive, dy DOWN-positive (screen), buttons bit0 left, bit1 right,
  // bit2 middle. Split into packets of at most kMaxStep per axis; clamped to kMaxMove. Nothing is
  // queued unless reporting is on in stream mode (the buttons are still remembered for status).
  void move(int32_t dx, int32_t dy, uint8_t buttons);

  void save(std::vector<uint8_t>& out) const;
  // Reads what save() wrote from [p, end); returns the position after it or throws std::runtime_error.
  const uint8_t* restore(const uint8_t* p, const uint8_t* end);

 private:
  void defaults();
  bool packet(int32_t dx, int32_t upDy);  // false when the queue had no room

  Ps2Queue queue_;
  bool reporting_ = false;
  uint8_t pendingArg_ = 0;  // F3 or E8: a command whose argument byte comes next
  uint8_t sampleRate_ = 100;
  uint8_t resolution_ = 2;  // 4 counts/mm
  bool scaling21_ = false;  // remembered and reported; motion is sent 1:1 either way
  bool remote_ = false;
  bool wrap_ = false;
  uint8_t buttons_ = 0;
};

}  // namespace roam::devices
