#include "devices/uart8250.h"

#include <stdexcept>

namespace roam::devices {

namespace {
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kIerThri = 0x02;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kLsrThreTemt = 0x60;
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirThri = 0x02;
constexpr uint8_t kIirFifoEnabled = 0xC0;
constexpr size_t kBatchLimit = 4096;
}  // namespace

Uart8250::Uart8250(OutputSink output, IrqSink irq) : output_(std::move(output)), irq_(std::move(irq)) {}

void Uart8250::pioRead(uint16_t offset, uint8_t* data, uint32_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A wider access reads consecutive registers; bytes beyond the UART read as an empty bus.
  for (uint32_t i = 0; i < size; ++i) data[i] = offset + i < kPortCount ? readRegister(uint16_t(offset + i)) : 0xFF;
}

void Uart8250::pioWrite(uint16_t offset, const uint8_t* data, uint32_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint32_t i = 0; i < size; ++i)
    if (offset + i < kPortCount) writeRegister(uint16_t(offset + i), data[i]);
}

uint8_t Uart8250::modemStatusLocked() const {
  if (mcr_ & kMcrLoop) {
    // Loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (Linux probes this).
    return uint8_t(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
  }
  return 0xB0;  // DCD, DSR, CTS: a terminal is attached and ready
}

uint8_t Uart8250::readRegister(uint16_t offset) {
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case 0: return dlab ? dll_ : 0;  // RBR: no input path yet
    case 1: return dlab ? dlm_ : ier_;
    case 2: {
      uint8_t fifo = (fcr_ & 0x01) ? kIirFifoEnabled : 0;
      if ((ier_ & kIerThri) && thrEmptyIrq_) {
        thrEmptyIrq_ = false;  // reading IIR acknowledges the THR-empty interrupt
        updateIrqLocked();
        return uint8_t(fifo | kIirThri);
      }
      return uint8_t(fifo | kIirNone);
    }
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return kLsrThreTemt;
    case 6: return modemStatusLocked();
    case 7: return scr_;
    default: return 0xFF;
  }
}

void Uart8250::writeRegister(uint16_t offset, uint8_t value) {
  bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case 0:
      if (dlab) {
        dll_ = value;
      } else {
        if (!(mcr_ & kMcrLoop)) transmit(value);
        thrEmptyIrq_ = true;  // the byte left at once: THR is empty again
        updateIrqLocked();
      }
      break;
    case 1:
      if (dlab) {
        dlm_ = value;
      } else {
        uint8_t before = ier_;
        ier_ = value & 0x0F;
        // Enabling THRI while THR is empty raises the interrupt at once (16550 behaviour).
        if ((ier_ & kIerThri) && !(before & kIerThri)) thrEmptyIrq_ = true;
        updateIrqLocked();
      }
      break;
    case 2: fcr_ = value & 0xC9; break;  // FIFO enable/trigger; reset bits self-clear
    case 3: lcr_ = value; break;
    case 4:
      mcr_ = value & 0x1F;
      updateIrqLocked();
      break;
    case 5: break;  // LSR is read-only
    case 6: break;  // MSR is read-only
    case 7: scr_ = value; break;
    default: break;
  }
}

void Uart8250::transmit(uint8_t byte) {
  pending_.push_back(static_cast<char>(byte));
  lastWrite_ = std::chrono::steady_clock::now();
  if (byte == '\n' || pending_.size() >= kBatchLimit) flushLocked();
}

void Uart8250::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  flushLocked();
}

void Uart8250::flushIfIdle(std::chrono::steady_clock::duration idle) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pending_.empty() && std::chrono::steady_clock::now() - lastWrite_ >= idle) flushLocked();
}

void Uart8250::flushLocked() {
  if (pending_.empty()) return;
  std::string out;
  out.swap(pending_);
  if (output_) output_(std::move(out));
}

void Uart8250::updateIrqLocked() {
  bool level = (ier_ & kIerThri) && thrEmptyIrq_ && (mcr_ & kMcrOut2);
  if (level == irqLevel_) return;
  irqLevel_ = level;
  if (irq_) irq_(level);
}

state::DeviceBlob Uart8250::saveState() const {
  std::lock_guard<std::mutex> lock(mutex_);
  state::DeviceBlob blob;
  blob.name = kStateName;
  blob.version = kStateVersion;
  blob.data = {dll_, dlm_, ier_, fcr_, lcr_, mcr_, scr_, uint8_t(thrEmptyIrq_ ? 1 : 0), uint8_t(irqLevel_ ? 1 : 0)};
  return blob;
}

void Uart8250::restoreState(const state::DeviceBlob& blob) {
  if (blob.version != kStateVersion || blob.data.size() != 9) {
    throw std::runtime_error(std::string(kStateName) + ": unsupported state (version " + std::to_string(blob.version) +
                             ", " + std::to_string(blob.data.size()) + " bytes; expected version 1, 9 bytes)");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const auto& d = blob.data;
  dll_ = d[0], dlm_ = d[1], ier_ = d[2], fcr_ = d[3], lcr_ = d[4], mcr_ = d[5], scr_ = d[6];
  thrEmptyIrq_ = d[7] != 0;
  // The in-kernel PIC's line level is restored with the irqchip; keep our view of it in step.
  irqLevel_ = d[8] != 0;
}

}  // namespace roam::devices
