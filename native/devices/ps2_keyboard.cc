#include "devices/ps2_keyboard.h"

#include <stdexcept>
#include <string>

#include "devices/ps2_scancodes.h"
#include "state/byte_order.h"

namespace roam::devices {

namespace {
constexpr uint8_t kAck = 0xFA;
constexpr uint8_t kResend = 0xFE;
constexpr uint8_t kSelfTestPassed = 0xAA;
}  // namespace

void Ps2Keyboard::reset() {
  queue_.clear();
  scanning_ = true;
  scancodeSet_ = 2;
  pendingArg_ = 0;
  leds_ = 0;
  typematic_ = 0x2B;
  breakPending_ = false;
}

void Ps2Keyboard::command(uint8_t value, bool translated) {
  if (pendingArg_) {
    uint8_t cmd = pendingArg_;
    pendingArg_ = 0;
    if (cmd == 0xED) {
      leds_ = value & 0x07;
      queue_.push(kAck);
    } else if (cmd == 0xF3) {
      typematic_ = value & 0x7F;
      queue_.push(kAck);
    } else if (value == 0) {  // F0 00: which set? The answer passes the translator like a key code.
      static constexpr uint8_t kTranslatedSet[4] = {0, 0x43, 0x41, 0x3F};
      const uint8_t reply[2] = {kAck, translated ? kTranslatedSet[scancodeSet_] : scancodeSet_};
      queue_.push(reply, 2);
    } else if (value <= 3) {
      scancodeSet_ = value;
      queue_.push(kAck);
    } else {
      queue_.push(kResend);
    }
    return;
  }
  switch (value) {
    case 0xFF: {  // reset: defaults, scanning on, then the self-test result
      reset();
      const uint8_t reply[2] = {kAck, kSelfTestPassed};
      queue_.push(reply, 2);
      break;
    }
    case 0xF6:  // set defaults
      scancodeSet_ = 2;
      typematic_ = 0x2B;
      queue_.push(kAck);
      break;
    case 0xF5:  // disable scanning (and set defaults)
      scanning_ = false;
      scancodeSet_ = 2;
      typematic_ = 0x2B;
      queue_.push(kAck);
      break;
    case 0xF4:  // enable scanning: the keyboard clears its buffer
      queue_.clear();
      scanning_ = true;
      queue_.push(kAck);
      break;
    case 0xED:
    case 0xF3:
    case 0xF0:
      pendingArg_ = value;
      queue_.push(kAck);
      break;
    case 0xF2: {  // identify: an MF2 keyboard
      const uint8_t reply[3] = {kAck, 0xAB, 0x83};
      queue_.push(reply, 3);
      break;
    }
    case 0xEE:  // echo
      queue_.push(0xEE);
      break;
    case 0xF7: case 0xF8: case 0xF9: case 0xFA: case 0xFB: case 0xFC: case 0xFD:
      queue_.push(kAck);  // scancode set 3 key modes: accepted, no effect on sets 1 and 2
      break;
    default:
      queue_.push(kResend);
      break;
  }
}

void Ps2Keyboard::type(const uint8_t* set2, size_t len, bool translate) {
  if (!scanning_ || len == 0) return;
  if (!translate && scancodeSet_ != 1) {
    queue_.push(set2, len);
    return;
  }
  uint8_t out[kMaxInput];
  size_t n = 0;
  bool breakPending = breakPending_;
  for (size_t i = 0; i < len && i < kMaxInput; ++i) {
    uint8_t b = set2[i];
    if (b == 0xF0) {
      breakPending = true;
    } else if (b == 0xE0 || b == 0xE1) {
      out[n++] = b;
    } else {
      uint8_t code = set2ToSet1(b);
      if (code) out[n++] = breakPending ? uint8_t(code | 0x80) : code;  // a code no key has is dropped
      breakPending = false;
    }
  }
  breakPending_ = breakPending;
  if (n) queue_.push(out, n);
}

void Ps2Keyboard::save(std::vector<uint8_t>& out) const {
  out.push_back(scanning_ ? 1 : 0);
  out.push_back(scancodeSet_);
  out.push_back(pendingArg_);
  out.push_back(leds_);
  out.push_back(typematic_);
  out.push_back(breakPending_ ? 1 : 0);
  state::putLe32(out, queue_.dropped());
  state::putLe16(out, uint16_t(queue_.size()));
  out.insert(out.end(), queue_.bytes().begin(), queue_.bytes().end());
}

const uint8_t* Ps2Keyboard::restore(const uint8_t* p, const uint8_t* end) {
  if (end - p < 12) throw std::runtime_error("keyboard state is truncated");
  uint16_t count = state::getLe16(p + 10);
  if (p[1] < 1 || p[1] > 3 || (p[2] && p[2] != 0xED && p[2] != 0xF3 && p[2] != 0xF0) || count > Ps2Queue::kLimit ||
      size_t(end - p - 12) < count) {
    throw std::runtime_error("keyboard state is malformed (set " + std::to_string(p[1]) + ", " + std::to_string(count) +
                             " queued bytes)");
  }
  scanning_ = p[0] != 0;
  scancodeSet_ = p[1];
  pendingArg_ = p[2];
  leds_ = p[3];
  typematic_ = p[4];
  breakPending_ = p[5] != 0;
  queue_.assign(p + 12, count, state::getLe32(p + 6));
  return p + 12 + count;
}

}  // namespace roam::devices
