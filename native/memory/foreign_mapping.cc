#include "memory/foreign_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace roam::memory {

namespace {
std::runtime_error sysError(const std::string& what, const std::string& path) {
  int err = errno;
  return std::runtime_error(what + " " + path + " failed: " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}
}  // namespace

ForeignMapping::ForeignMapping(const std::string& path, uint64_t minBytes) {
  if (minBytes == 0 || minBytes % 4096 != 0) {
    throw std::invalid_argument("mapGuestMemory: the slots must cover a positive multiple of 4096 bytes");
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw sysError("mapGuestMemory: open", path);
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    auto e = sysError("mapGuestMemory: fstat", path);
    ::close(fd);
    throw e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::invalid_argument("mapGuestMemory: " + path + " is not a memory file (expected the VM's RAM memfd)");
  }
  if (uint64_t(st.st_size) < minBytes) {
    ::close(fd);
    throw std::invalid_argument("mapGuestMemory: " + path + " holds " + std::to_string(st.st_size) +
                                " bytes but the slots need " + std::to_string(minBytes));
  }
  void* p = ::mmap(nullptr, minBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  // The mapping keeps the file alive; the descriptor is no longer needed.
  int mapErrno = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    errno = mapErrno;
    throw sysError("mapGuestMemory: mmap of " + std::to_string(minBytes) + " bytes of", path);
  }
  ::madvise(p, minBytes, MADV_DONTDUMP);
  base_ = static_cast<uint8_t*>(p);
  bytes_ = minBytes;
}

ForeignMapping::~ForeignMapping() { unmap(); }

void ForeignMapping::unmap() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (base_) ::munmap(base_, bytes_);
  base_ = nullptr;
}

}  // namespace roam::memory
