// The i8042 keyboard controller at ports 0x60/0x64: status and data ports, the command byte, the
// self-tests, interface enable/disable, the reset line (command 0xFE, or an output-port write that
// drops bit 0, reported through the reset sink), and the two PS/2 devices behind it -- a keyboard
// (devices/ps2_keyboard.h) and a mouse on the aux port (devices/ps2_mouse.h).
//
// Like the hardware it has one output buffer: the guest reads one byte at a time from port 0x60,
// and the next byte moves in (controller replies first, then keyboard, then aux, each only while
// its interface is enabled). Each time a byte moves in, IRQ 1 (keyboard) or IRQ 12 (aux) is pulsed
// if the command byte enables it (bits 0 and 1). Guest port I/O (vCPU threads) and host input (the
// JS thread) meet here, so everything is under one lock; interrupts are raised after it is released.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "devices/pio_device.h"
#include "devices/ps2_keyboard.h"
#include "devices/ps2_mouse.h"
#include "devices/stateful_device.h"

namespace roam::devices {

class I8042 : public StatefulDevice {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;
  static constexpr uint32_t kKeyboardIrq = 1;
  static constexpr uint32_t kAuxIrq = 12;
  static constexpr const char* kStateName = "dev.i8042.0";
  static constexpr uint32_t kStateVersion = 2;  // 1: controller only (still read)

  using ResetSink = std::function<void()>;
  using IrqPulse = std::function<void(uint32_t irq)>;  // an edge on an ISA IRQ line
  I8042(ResetSink onReset, IrqPulse pulse);

  // The controller sits on two non-adjacent ports; each gets a thin adapter to attach to the bus.
  PioDevice& dataPort() { return data_; }
  PioDevice& commandPort() { return command_; }

  // Host keyboard input, scancode set 2, at most Ps2Keyboard::kMaxInput bytes (else
  // std::invalid_argument). Translated to set 1 when the command byte says so.
  void keyboardInput(const uint8_t* set2, size_t len);
  // Host mouse input; see Ps2Mouse::move.
  void mouseInput(int32_t dx, int32_t dy, uint8_t buttons);

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

  // A byte the controller itself answers, or one the guest put back with D2/D3.
  struct ControllerByte {
    uint8_t value;
    bool aux;
  };
  // IRQ edges to raise once the lock is released.
  struct Pulses {
    bool keyboard = false, aux = false;
  };

  uint8_t readStatus();
  uint8_t readData();
  void writeCommand(uint8_t cmd);
  void writeData(uint8_t value);
  void reply(uint8_t byte, bool aux = false);
  // Moves the next byte into an empty output buffer, then works out which IRQ lines rose.
  void refillLocked(Pulses& pulses);
  void firePulses(const Pulses& pulses);
  bool translating() const { return commandByte_ & 0x40; }

  ResetSink onReset_;
  IrqPulse pulse_;
  Port data_{*this, false};
  Port command_{*this, true};
  mutable std::mutex mutex_;
  std::deque<ControllerByte> replies_;  // bounded (kReplyLimit)
  Ps2Keyboard keyboard_;
  Ps2Mouse mouse_;
  uint8_t commandByte_ = 0x45;  // translate, system flag, keyboard interrupt
  uint8_t outputPort_ = 0x01;   // bit 0 = reset line inactive
  uint8_t pendingCommand_ = 0;  // controller command awaiting its data byte
  bool lastWriteWasCommand_ = false;
  bool outputFull_ = false;
  bool outputAux_ = false;
  uint8_t output_ = 0;           // the output buffer (what a read of port 0x60 returns)
  bool irqLevel_[2] = {false, false};  // keyboard, aux: whether the line is (logically) up
};

}  // namespace roam::devices
