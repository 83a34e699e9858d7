// Port 0x80: firmware and kernels write POST codes / use it as an I/O delay. Accepted quietly;
// the last code is kept because it is handy when a guest stops early.
#pragma once
#include <atomic>

#include "devices/pio_device.h"

namespace roam::devices {

class PostCodePort : public PioDevice {
 public:
  static constexpr uint16_t kPort = 0x80;
  void pioRead(uint16_t offset, uint8_t* data, uint32_t size) override;
  void pioWrite(uint16_t offset, const uint8_t* data, uint32_t size) override;
  uint8_t lastCode() const { return last_.load(); }

 private:
  std::atomic<uint8_t> last_{0};
};

}  // namespace roam::devices
