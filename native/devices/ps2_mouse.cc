#include "devices/ps2_mouse.h"

#include <stdexcept>
#include <string>

#include "state/byte_order.h"

namespace roam::devices {

namespace {
constexpr uint8_t kAck = 0xFA;
constexpr uint8_t kResend = 0xFE;

int32_t clamp(int32_t v, int32_t limit) { return v < -limit ? -limit : v > limit ? limit : v; }
}  // namespace

void Ps2Mouse::defaults() {
  sampleRate_ = 100;
  resolution_ = 2;
  scaling21_ = false;
}

void Ps2Mouse::command(uint8_t value) {
  if (wrap_ && value != 0xEC && value != 0xFF) {  // wrap mode echoes everything but its exits
    queue_.push(value);
    return;
  }
  if (pendingArg_) {
    if (pendingArg_ == 0xF3) sampleRate_ = value;
    else resolution_ = value & 0x03;
    pendingArg_ = 0;
    queue_.push(kAck);
    return;
  }
  switch (value) {
    case 0xFF: {  // reset: defaults, reporting off, stream mode, then self-test passed and the ID
      queue_.clear();
      defaults();
      reporting_ = remote_ = wrap_ = false;
      const uint8_t reply[3] = {kAck, 0xAA, 0x00};
      queue_.push(reply, 3);
      break;
    }
    case 0xF6:
      defaults();
      queue_.push(kAck);
      break;
    case 0xF5:
      reporting_ = false;
      queue_.push(kAck);
      break;
    case 0xF4:
      reporting_ = true;
      queue_.push(kAck);
      break;
    case 0xF3:
    case 0xE8:
      pendingArg_ = value;
      queue_.push(kAck);
      break;
    case 0xF2: {  // identify: a standard mouse (3-byte packets)
      const uint8_t reply[2] = {kAck, 0x00};
      queue_.push(reply, 2);
      break;
    }
    case 0xF0:
      remote_ = true;
      queue_.push(kAck);
      break;
    case 0xEA:
      remote_ = false;
      queue_.push(kAck);
      break;
    case 0xEE:
      wrap_ = true;
      queue_.push(kAck);
      break;
    case 0xEC:
      wrap_ = false;
      queue_.push(kAck);
      break;
    case 0xEB: {  // read data (remote mode): a packet with no motion, the current buttons
      queue_.push(kAck);
      packet(0, 0);
      break;
    }
    case 0xE9: {  // status: mode/enable/scaling/buttons, resolution, sample rate
      uint8_t left = buttons_ & 1, right = (buttons_ >> 1) & 1, middle = (buttons_ >> 2) & 1;
      uint8_t status = uint8_t((remote_ ? 0x40 : 0) | (reporting_ ? 0x20 : 0) | (scaling21_ ? 0x10 : 0) | (left << 2) |
                               (middle << 1) | right);
      const uint8_t reply[4] = {kAck, status, resolution_, sampleRate_};
      queue_.push(reply, 4);
      break;
    }
    case 0xE7:
      scaling21_ = true;
      queue_.push(kAck);
      break;
    case 0xE6:
      scaling21_ = false;
      queue_.push(kAck);
      break;
    default:
      queue_.push(kResend);
      break;
  }
}

bool Ps2Mouse::packet(int32_t dx, int32_t upDy) {
  uint8_t p[3] = {uint8_t(0x08 | (buttons_ & 0x07) | (dx < 0 ? 0x10 : 0) | (upDy < 0 ? 0x20 : 0)), uint8_t(dx & 0xFF),
                  uint8_t(upDy & 0xFF)};
  return queue_.push(p, 3);
}

void Ps2Mouse::move(int32_t dx, int32_t dy, uint8_t buttons) {
  buttons_ = buttons & 0x07;
  if (!reporting_ || remote_ || wrap_) return;
  dx = clamp(dx, kMaxMove);
  int32_t up = -clamp(dy, kMaxMove);  // PS/2 counts y upwards
  bool full = false;
  do {
    int32_t sx = clamp(dx, kMaxStep), sy = clamp(up, kMaxStep);
    dx -= sx;
    up -= sy;
    // Once a packet did not fit, the rest of this move is dropped too (and counted): a later
    // packet arriving without the earlier ones would misplace the pointer for good.
    if (full) queue_.countDropped(3);
    else full = !packet(sx, sy);
  } while (dx || up);
}

void Ps2Mouse::save(std::vector<uint8_t>& out) const {
  out.push_back(reporting_ ? 1 : 0);
  out.push_back(pendingArg_);
  out.push_back(sampleRate_);
  out.push_back(resolution_);
  out.push_back(scaling21_ ? 1 : 0);
  out.push_back(remote_ ? 1 : 0);
  out.push_back(wrap_ ? 1 : 0);
  out.push_back(buttons_);
  state::putLe32(out, queue_.dropped());
  state::putLe16(out, uint16_t(queue_.size()));
  out.insert(out.end(), queue_.bytes().begin(), queue_.bytes().end());
}

const uint8_t* Ps2Mouse::restore(const uint8_t* p, const uint8_t* end) {
  if (end - p < 14) throw std::runtime_error("mouse state is truncated");
  uint16_t count = state::getLe16(p + 12);
  if ((p[1] && p[1] != 0xF3 && p[1] != 0xE8) || p[3] > 3 || p[7] > 7 || count > Ps2Queue::kLimit ||
      size_t(end - p - 14) < count) {
    throw std::runtime_error("mouse state is malformed (" + std::to_string(count) + " queued bytes)");
  }
  reporting_ = p[0] != 0;
  pendingArg_ = p[1];
  sampleRate_ = p[2];
  resolution_ = p[3];
  scaling21_ = p[4] != 0;
  remote_ = p[5] != 0;
  wrap_ = p[6] != 0;
  buttons_ = p[7];
  queue_.assign(p + 14, count, state::getLe32(p + 8));
  return p + 14 + count;
}

}  // namespace roam::devices
