// i8042 keyboard controller, only as much as guests need to start and to reboot: status and data
// ports, the controller command byte, self-tests, and the reset line (command 0xFE, or a pulse/
// output-port write that drops bit 0), which is reported through the reset sink.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "devices/pio_device.h"
#include "devices/stateful_device.h"

namespace roam::devices {

class I8042 : public StatefulDevice {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;
  static constexpr const char* kStateName = "dev.i8042.0";
  static constexpr uint32_t kStateVersion = 1;

  using ResetSink = std::function<void()>;
  explicit I8042(ResetSink onReset);

  // The controller sits on two non-adjacent ports; each gets a thin adapter to attach to the bus.
  PioDevice& dataPort() { return data_; }
  PioDevice& commandPort() { return command_; }

  state::DeviceBlob saveState() const override;
  void restoreState(const state::DeviceBlob& blob) override;

 private:
  class Port : public PioDevice {
   public:
    Port(I8042& owner, bool command) : owner_(owner), command_(command) {}
    void pioRead(uint16_t, uint8_t* data, uint32_t size) override;
    void pioWrite(uint16_t, const uint8_t* data, uint32_t size) override;

   private:
    I8042& owner_;
    bool command_;
  };

  uint8_t readStatus();
  uint8_t readData();
  void writeCommand(uint8_t cmd);
  void writeData(uint8_t value);
  void push(uint8_t byte);

  ResetSink onReset_;
  Port data_{*this, false};
  Port command_{*this, true};
  mutable std::mutex mutex_;
  std::deque<uint8_t> output_;  // bytes waiting for the guest at port 0x60 (bounded)
  uint8_t commandByte_ = 0x45;  // translate, system flag, keyboard interrupt
  uint8_t outputPort_ = 0x01;   // bit 0 = reset line inactive
  uint8_t pendingCommand_ = 0;  // controller command awaiting its data byte
  bool lastWriteWasCommand_ = false;
};

}  // namespace roam::devices
