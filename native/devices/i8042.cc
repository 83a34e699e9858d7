#include "devices/i8042.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace roam::devices {

namespace {
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusCommand = 0x08;
constexpr uint8_t kStatusNotInhibited = 0x10;
constexpr size_t kOutputLimit = 16;
}  // namespace

I8042::I8042(ResetSink onReset) : onReset_(std::move(onReset)) {}

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

uint8_t I8042::readStatus() {
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t s = kStatusSystemFlag | kStatusNotInhibited;
  if (!output_.empty()) s |= kStatusOutputFull;
  if (lastWriteWasCommand_) s |= kStatusCommand;
  return s;
}

uint8_t I8042::readData() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (output_.empty()) return 0;
  uint8_t b = output_.front();
  output_.pop_front();
  return b;
}

void I8042::push(uint8_t byte) {
  if (output_.size() < kOutputLimit) output_.push_back(byte);
}

void I8042::writeCommand(uint8_t cmd) {
  bool reset = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lastWriteWasCommand_ = true;
    pendingCommand_ = 0;
    switch (cmd) {
      case 0x20: push(commandByte_); break;        // read command byte
      case 0x60: pendingCommand_ = cmd; break;     // write command byte (next data)
      case 0xAA: push(0x55); break;                // controller self-test passed
      case 0xAB: push(0x00); break;                // keyboard interface test passed
      case 0xA9: push(0x00); break;                // aux interface test passed
      case 0xAD: commandByte_ |= 0x10; break;      // disable keyboard
      case 0xAE: commandByte_ &= uint8_t(~0x10); break;
      case 0xA7: commandByte_ |= 0x20; break;      // disable aux
      case 0xA8: commandByte_ &= uint8_t(~0x20); break;
      case 0xD0: push(outputPort_); break;         // read output port
      case 0xD1: pendingCommand_ = cmd; break;     // write output port (next data)
      default:
        // 0xF0..0xFF pulse output-port lines low for a moment; bit 0 low pulses reset (0xFE).
        if (cmd >= 0xF0 && !(cmd & 0x01)) reset = true;
        break;
    }
  }
  if (reset && onReset_) onReset_();
}

void I8042::writeData(uint8_t value) {
  bool reset = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lastWriteWasCommand_ = false;
    uint8_t pending = pendingCommand_;
    pendingCommand_ = 0;
    if (pending == 0x60) {
      commandByte_ = value;
    } else if (pending == 0xD1) {
      outputPort_ = value;
      if (!(value & 0x01)) reset = true;  // the reset line is driven low
    } else {
      // A byte for the keyboard itself: acknowledge; answer a reset with "self-test passed".
      push(0xFA);
      if (value == 0xFF) push(0xAA);
    }
  }
  if (reset && onReset_) onReset_();
}

state::DeviceBlob I8042::saveState() const {
  std::lock_guard<std::mutex> lock(mutex_);
  state::DeviceBlob blob;
  blob.name = kStateName;
  blob.version = kStateVersion;
  blob.data = {commandByte_, outputPort_, pendingCommand_, uint8_t(lastWriteWasCommand_ ? 1 : 0),
               uint8_t(output_.size())};
  blob.data.insert(blob.data.end(), output_.begin(), output_.end());
  return blob;
}

void I8042::restoreState(const state::DeviceBlob& blob) {
  const auto& d = blob.data;
  if (blob.version != kStateVersion || d.size() < 5 || d[4] > kOutputLimit || d.size() != 5u + d[4]) {
    throw std::runtime_error(std::string(kStateName) + ": unsupported or malformed state (version " +
                             std::to_string(blob.version) + ", " + std::to_string(d.size()) + " bytes)");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  commandByte_ = d[0];
  outputPort_ = d[1];
  pendingCommand_ = d[2];
  lastWriteWasCommand_ = d[3] != 0;
  output_.assign(d.begin() + 5, d.end());
}

}  // namespace roam::devices
