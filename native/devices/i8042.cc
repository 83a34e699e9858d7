#include "devices/i8042.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "state/byte_order.h"

namespace roam::devices {

namespace {
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusCommand = 0x08;
constexpr uint8_t kStatusNotInhibited = 0x10;
constexpr uint8_t kStatusAuxData = 0x20;

constexpr uint8_t kCmdKeyboardIrq = 0x01;
constexpr uint8_t kCmdAuxIrq = 0x02;
constexpr uint8_t kCmdKeyboardDisabled = 0x10;
constexpr uint8_t kCmdAuxDisabled = 0x20;

constexpr size_t kReplyLimit = 16;
constexpr size_t kV1Header = 5;  // version 1: command byte, output port, pending, last-was-command, count
constexpr size_t kV1OutputLimit = 16;
}  // namespace

I8042::I8042(ResetSink onReset, IrqPulse pulse) : onReset_(std::move(onReset)), pulse_(std::move(pulse)) {}

void I8042::Port::pioRead(uint16_t, uint8_t* data, uint32_t size) {
  if (size == 0) return;
  data[0] = command_ ? owner_.readStatus() : owner_.readData();
  if (size > 1) std::memset(data + 1, 0xFF, size - 1);
}

void I8042::Port::pioWrite(uint16_t, const uint8_t* data, uint32_t size) {
  if (size == 0) return;
  if (command_) owner_.writeCommand(data[0]);
  else owner_.writeData(data[0]);
}

void I8042::reply(uint8_t byte, bool aux) {
  if (replies_.size() < kReplyLimit) replies_.push_back(ControllerByte{byte, aux});
}

void I8042::refillLocked(Pulses& pulses) {
  if (!outputFull_) {
    if (!replies_.empty()) {
      output_ = replies_.front().value;
      outputAux_ = replies_.front().aux;
      replies_.pop_front();
      outputFull_ = true;
    } else if (!(commandByte_ & kCmdKeyboardDisabled) && !keyboard_.queue().empty()) {
      output_ = keyboard_.queue().pop();
      outputAux_ = false;
      outputFull_ = true;
    } else if (!(commandByte_ & kCmdAuxDisabled) && !mouse_.queue().empty()) {
      output_ = mouse_.queue().pop();
      outputAux_ = true;
      outputFull_ = true;
    }
  }
  bool kbd = outputFull_ && !outputAux_ && (commandByte_ & kCmdKeyboardIrq);
  bool aux = outputFull_ && outputAux_ && (commandByte_ & kCmdAuxIrq);
  if (kbd && !irqLevel_[0]) pulses.keyboard = true;
  if (aux && !irqLevel_[1]) pulses.aux = true;
  irqLevel_[0] = kbd;
  irqLevel_[1] = aux;
}

void I8042::firePulses(const Pulses& pulses) {
  if (!pulse_) return;
  if (pulses.keyboard) pulse_(kKeyboardIrq);
  if (pulses.aux) pulse_(kAuxIrq);
}

uint8_t I8042::readStatus() {
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t s = kStatusNotInhibited;
  if (commandByte_ & kStatusSystemFlag) s |= kStatusSystemFlag;
  if (outputFull_) s |= kStatusOutputFull | (outputAux_ ? kStatusAuxData : 0);
  if (lastWriteWasCommand_) s |= kStatusCommand;
  return s;
}

uint8_t I8042::readData() {
  Pulses pulses;
  uint8_t b;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    b = output_;  // an empty buffer reads as the last byte again, like the hardware
    outputFull_ = false;
    irqLevel_[0] = irqLevel_[1] = false;  // the read drops the line; the next byte raises it anew
    refillLocked(pulses);
  }
  firePulses(pulses);
  return b;
}

void I8042::writeCommand(uint8_t cmd) {
  bool reset = false;
  Pulses pulses;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lastWriteWasCommand_ = true;
    pendingCommand_ = 0;
    switch (cmd) {
      case 0x20: reply(commandByte_); break;                    // read command byte
      case 0x60:                                                // write command byte (next data)
      case 0xD1:                                                // write output port
      case 0xD2:                                                // write keyboard output buffer
      case 0xD3:                                                // write aux output buffer
      case 0xD4:                                                // write to the aux device
        pendingCommand_ = cmd;
        break;
      case 0xAA: reply(0x55); break;                            // controller self-test passed
      case 0xAB: reply(0x00); break;                            // keyboard interface test passed
      case 0xA9: reply(0x00); break;                            // aux interface test passed
      case 0xAD: commandByte_ |= kCmdKeyboardDisabled; break;
      case 0xAE: commandByte_ &= uint8_t(~kCmdKeyboardDisabled); break;
      case 0xA7: commandByte_ |= kCmdAuxDisabled; break;
      case 0xA8: commandByte_ &= uint8_t(~kCmdAuxDisabled); break;
      case 0xC0: reply(0x80); break;                            // input port: keyboard not locked
      case 0xD0: reply(outputPort_); break;                     // read output port
      default:
        // 0xF0..0xFF pulse output-port lines low for a moment; bit 0 low pulses reset (0xFE).
        if (cmd >= 0xF0 && !(cmd & 0x01)) reset = true;
        break;
    }
    refillLocked(pulses);
  }
  firePulses(pulses);
  if (reset && onReset_) onReset_();
}

void I8042::writeData(uint8_t value) {
  bool reset = false;
  Pulses pulses;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lastWriteWasCommand_ = false;
    uint8_t pending = pendingCommand_;
    pendingCommand_ = 0;
    switch (pending) {
      case 0x60: commandByte_ = value; break;
      case 0xD1:
        outputPort_ = value;
        if (!(value & 0x01)) reset = true;  // the reset line is driven low
        break;
      case 0xD2: reply(value, false); break;
      case 0xD3: reply(value, true); break;
      case 0xD4:
        // Talking to a device enables its interface, as the controller firmware does.
        commandByte_ &= uint8_t(~kCmdAuxDisabled);
        mouse_.command(value);
        break;
      default:
        commandByte_ &= uint8_t(~kCmdKeyboardDisabled);
        keyboard_.command(value, translating());
        break;
    }
    refillLocked(pulses);
  }
  firePulses(pulses);
  if (reset && onReset_) onReset_();
}

void I8042::keyboardInput(const uint8_t* set2, size_t len) {
  if (len > Ps2Keyboard::kMaxInput) {
    throw std::invalid_argument("keyboardInput takes at most " + std::to_string(Ps2Keyboard::kMaxInput) +
                                " scancode bytes per call, got " + std::to_string(len));
  }
  Pulses pulses;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    keyboard_.type(set2, len, translating());
    refillLocked(pulses);
  }
  firePulses(pulses);
}

void I8042::mouseInput(int32_t dx, int32_t dy, uint8_t buttons) {
  Pulses pulses;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mouse_.move(dx, dy, buttons);
    refillLocked(pulses);
  }
  firePulses(pulses);
}

// Version 2 payload: command byte, output port, pending command, last-was-command, output-full,
// output byte, output-is-aux, reply count (<= 16) and (byte, aux) pairs, then the keyboard's and
// the mouse's own records (Ps2Keyboard::save, Ps2Mouse::save), nothing after.
state::DeviceBlob I8042::saveState() const {
  std::lock_guard<std::mutex> lock(mutex_);
  state::DeviceBlob blob;
  blob.name = kStateName;
  blob.version = kStateVersion;
  auto& d = blob.data;
  d = {commandByte_, outputPort_, pendingCommand_, uint8_t(lastWriteWasCommand_ ? 1 : 0), uint8_t(outputFull_ ? 1 : 0),
       output_, uint8_t(outputAux_ ? 1 : 0), uint8_t(replies_.size())};
  for (const auto& r : replies_) {
    d.push_back(r.value);
    d.push_back(r.aux ? 1 : 0);
  }
  keyboard_.save(d);
  mouse_.save(d);
  return blob;
}

void I8042::restoreState(const state::DeviceBlob& blob) {
  const auto& d = blob.data;
  auto malformed = [&](const std::string& why) {
    return std::runtime_error(std::string(kStateName) + ": unsupported or malformed state (version " +
                              std::to_string(blob.version) + ", " + std::to_string(d.size()) + " bytes" +
                              (why.empty() ? "" : ": " + why) + ")");
  };
  // Parse everything into fresh objects first, so a bad blob changes nothing.
  I8042 parsed(nullptr, nullptr);
  if (blob.version == 1) {
    if (d.size() < kV1Header || d[4] > kV1OutputLimit || d.size() != kV1Header + d[4]) throw malformed("");
    parsed.commandByte_ = d[0];
    parsed.outputPort_ = d[1];
    parsed.pendingCommand_ = d[2];
    parsed.lastWriteWasCommand_ = d[3] != 0;
    // Version 1 had one queue of controller replies and keyboard acks: the head is in the buffer.
    for (size_t i = kV1Header; i < d.size(); ++i) parsed.replies_.push_back(ControllerByte{d[i], false});
  } else if (blob.version == kStateVersion) {
    if (d.size() < 8 || d[7] > kReplyLimit || d.size() < 8u + 2u * d[7]) throw malformed("controller");
    parsed.commandByte_ = d[0];
    parsed.outputPort_ = d[1];
    parsed.pendingCommand_ = d[2];
    parsed.lastWriteWasCommand_ = d[3] != 0;
    parsed.outputFull_ = d[4] != 0;
    parsed.output_ = d[5];
    parsed.outputAux_ = d[6] != 0;
    const uint8_t* p = d.data() + 8;
    for (size_t i = 0; i < d[7]; ++i, p += 2) parsed.replies_.push_back(ControllerByte{p[0], p[1] != 0});
    const uint8_t* end = d.data() + d.size();
    try {
      p = parsed.keyboard_.restore(p, end);
      p = parsed.mouse_.restore(p, end);
    } catch (const std::runtime_error& e) {
      throw malformed(e.what());
    }
    if (p != end) throw malformed(std::to_string(end - p) + " bytes left over");
  } else {
    throw malformed("");
  }

  std::lock_guard<std::mutex> lock(mutex_);
  commandByte_ = parsed.commandByte_;
  outputPort_ = parsed.outputPort_;
  pendingCommand_ = parsed.pendingCommand_;
  lastWriteWasCommand_ = parsed.lastWriteWasCommand_;
  outputFull_ = parsed.outputFull_;
  output_ = parsed.output_;
  outputAux_ = parsed.outputAux_;
  replies_ = parsed.replies_;
  keyboard_ = parsed.keyboard_;
  mouse_ = parsed.mouse_;
  // The interrupt controller's saved state already holds any edge raised before the save: work
  // out the line levels without pulsing again.
  Pulses ignored;
  irqLevel_[0] = irqLevel_[1] = false;
  refillLocked(ignored);
}

}  // namespace roam::devices
