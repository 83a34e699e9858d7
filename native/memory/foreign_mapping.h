// Guest RAM of a VM that lives in another process, mapped into this one: the agent runs the
// migration (it owns the network) while the VM process owns the KVM fds, and both see the same
// memfd pages, so pages go from guest RAM to the wire (and from the wire into guest RAM) with no
// copy through IPC. Opened by path (/proc/<pid>/fd/<n>), mapped MAP_SHARED once, unmapped by
// unmap() or the destructor, whichever comes first.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

namespace roam::memory {

class ForeignMapping {
 public:
  // Opens `path` read-write, checks that it is a regular file (a memfd is one) of at least
  // `minBytes`, and maps its first `minBytes` bytes shared. Throws std::runtime_error naming the
  // path and errno on failure, std::invalid_argument when the file is too small or not a file.
  ForeignMapping(const std::string& path, uint64_t minBytes);
  ~ForeignMapping();
  ForeignMapping(const ForeignMapping&) = delete;
  ForeignMapping& operator=(const ForeignMapping&) = delete;

  uint8_t* base() const { return base_; }
  uint64_t size() const { return bytes_; }
  bool mapped() const { return base_ != nullptr; }
  // Idempotent. Callers must have detached every JS view of the mapping first.
  void unmap();

 private:
  uint8_t* base_ = nullptr;
  uint64_t bytes_ = 0;
  std::mutex mutex_;
};

}  // namespace roam::memory
