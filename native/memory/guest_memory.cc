#include "memory/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace roam::memory {

static std::runtime_error sysError(const std::string& what) {
  int err = errno;
  return std::runtime_error(what + " failed: " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}

GuestMemory::GuestMemory(uint64_t bytes, const DeviceRegion* device) : bytes_(bytes), mapped_(bytes) {
  if (bytes == 0 || bytes % kPageSize != 0) throw std::invalid_argument("guest memory size must be a positive multiple of 4096");
  uint64_t low = bytes < kLowRamLimit ? bytes : kLowRamLimit;
  slots_.push_back(RamSlot{0, 0, low, 0, SlotKind::Ram});
  if (bytes > low) slots_.push_back(RamSlot{1, kHighRamBase, bytes - low, low, SlotKind::Ram});
  if (device) {
    // Device memory must sit inside the MMIO hole, where no RAM is, on page boundaries.
    if (device->size == 0 || device->size % kPageSize || device->guestPhys % kPageSize ||
        device->guestPhys < kLowRamLimit || device->guestPhys + device->size > kHighRamBase) {
      throw std::invalid_argument("device memory must be whole pages inside the 3..4 GiB hole");
    }
    for (const auto& s : slots_) {
      if (s.slot == device->slot) throw std::invalid_argument("device memory slot " + std::to_string(device->slot) + " is taken");
    }
    slots_.push_back(RamSlot{device->slot, device->guestPhys, device->size, bytes, device->kind});
    mapped_ = bytes + device->size;
  }

  fd_ = ::memfd_create("roam-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw sysError("memfd_create for guest RAM");
  if (::ftruncate(fd_, static_cast<off_t>(mapped_)) < 0) {
    auto e = sysError("ftruncate guest RAM memfd to " + std::to_string(mapped_) + " bytes");
    ::close(fd_);
    throw e;
  }
  void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    auto e = sysError("mmap of " + std::to_string(mapped_) + " bytes of guest RAM");
    ::close(fd_);
    throw e;
  }
  base_ = static_cast<uint8_t*>(p);
  // A core dump of the VM process need not carry the guest's RAM.
  ::madvise(base_, mapped_, MADV_DONTDUMP);
  for (const auto& s : slots_) dirty_.push_back(std::make_unique<DirtyBitmap>(s.size / kPageSize));
}

GuestMemory::~GuestMemory() {
  if (base_) ::munmap(base_, mapped_);
  if (fd_ >= 0) ::close(fd_);
}

const RamSlot* GuestMemory::findSlot(uint32_t slot) const {
  for (const auto& s : slots_)
    if (s.slot == slot) return &s;
  return nullptr;
}

std::string GuestMemory::slotNames() const {
  bool contiguous = true;
  for (size_t i = 0; i < slots_.size(); ++i) contiguous = contiguous && slots_[i].slot == i;
  if (contiguous) return "0.." + std::to_string(slots_.size() - 1);
  std::string list;
  for (const auto& s : slots_) list += (list.empty() ? "" : ", ") + std::to_string(s.slot);
  return list;
}

const RamSlot* GuestMemory::slotOfKind(SlotKind kind) const {
  for (const auto& s : slots_)
    if (s.kind == kind) return &s;
  return nullptr;
}

uint8_t* GuestMemory::translate(uint64_t gpa, uint64_t len) const {
  for (const auto& s : slots_) {
    if (s.kind == SlotKind::Ram && gpa >= s.guestPhys && gpa - s.guestPhys <= s.size && len <= s.size - (gpa - s.guestPhys)) {
      return base_ + s.memfdOffset + (gpa - s.guestPhys);
    }
  }
  return nullptr;
}

static std::out_of_range outside(uint64_t gpa, uint64_t len) {
  return std::out_of_range("guest range 0x" + [](uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  }(gpa) + " (+" + std::to_string(len) + " bytes) is not inside guest RAM");
}

void GuestMemory::write(uint64_t gpa, const void* src, uint64_t len) {
  uint8_t* dst = translate(gpa, len);
  if (!dst) throw outside(gpa, len);
  std::memcpy(dst, src, len);
  markDirty(gpa, len);
}

void GuestMemory::fill(uint64_t gpa, uint8_t value, uint64_t len) {
  uint8_t* dst = translate(gpa, len);
  if (!dst) throw outside(gpa, len);
  std::memset(dst, value, len);
  markDirty(gpa, len);
}

void GuestMemory::markDirty(uint64_t gpa, uint64_t len) {
  if (len == 0) return;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const auto& s = slots_[i];
    uint64_t lo = gpa > s.guestPhys ? gpa : s.guestPhys;
    uint64_t end = gpa + len, slotEnd = s.guestPhys + s.size;
    uint64_t hi = end < slotEnd ? end : slotEnd;
    if (lo >= hi) continue;
    uint64_t first = (lo - s.guestPhys) / kPageSize;
    uint64_t last = (hi - 1 - s.guestPhys) / kPageSize;
    dirty_[i]->mark(first, last - first + 1);
  }
}

DirtyBitmap& GuestMemory::vmmDirty(uint32_t slot) {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].slot == slot) return *dirty_[i];
  throw std::out_of_range("no memory slot " + std::to_string(slot));
}

}  // namespace roam::memory
