// 8250/16550-compatible UART (COM1). Transmit only: bytes written to THR are batched (a line, or
// 4 KiB, or whatever is left when flush() is called) and handed to the output sink. The line
// status always shows the transmitter empty, so polled output never waits. The THR-empty interrupt
// (IRQ 4, gated by MCR.OUT2 as on a PC) is raised for drivers that use it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "devices/pio_device.h"
#include "devices/stateful_device.h"

namespace roam::devices {

class Uart8250 : public PioDevice, public StatefulDevice {
 public:
  static constexpr uint16_t kCom1Base = 0x3F8;
  static constexpr uint16_t kPortCount = 8;
  static constexpr uint32_t kIrq = 4;
  static constexpr const char* kStateName = "dev.uart8250.0";
  static constexpr uint32_t kStateVersion = 1;

  using OutputSink = std::function<void(std::string)>;
  using IrqSink = std::function<void(bool level)>;

  Uart8250(OutputSink output, IrqSink irq);

  void pioRead(uint16_t offset, uint8_t* data, uint32_t size) override;
  void pioWrite(uint16_t offset, const uint8_t* data, uint32_t size) override;
  // Hands any buffered output to the sink now.
  void flush();
  // Hands buffered output over only if nothing was written for `idle`.
  void flushIfIdle(std::chrono::steady_clock::duration idle);

  state::DeviceBlob saveState() const override;
  void restoreState(const state::DeviceBlob& blob) override;

 private:
  uint8_t readRegister(uint16_t offset);
  void writeRegister(uint16_t offset, uint8_t value);
  void transmit(uint8_t byte);
  void flushLocked();
  void updateIrqLocked();
  uint8_t modemStatusLocked() const;

  OutputSink output_;
  IrqSink irq_;
  mutable std::mutex mutex_;
  std::string pending_;
  std::chrono::steady_clock::time_point lastWrite_{};
  // Registers (16550 names).
  uint8_t dll_ = 0x0C, dlm_ = 0, ier_ = 0, fcr_ = 0, lcr_ = 0x03, mcr_ = 0x08, scr_ = 0;
  bool thrEmptyIrq_ = false;  // THR-empty interrupt condition, cleared by reading IIR or writing THR
  bool irqLevel_ = false;
};

}  // namespace roam::devices
