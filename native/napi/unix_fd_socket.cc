// unixFdSocket.{connect, send, recv, close}: every call blocks for at most its
// timeout (poll), so a bus that stops answering costs a bounded wait, never a
// hang. recv returns the bytes and any descriptors that came with them (close-
// on-exec); a control message that was cut short is an error, and the
// descriptors that did arrive are closed rather than leaked.
#include "napi/unix_fd_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "napi/args.h"

namespace roam::napi {

namespace {

constexpr size_t kMaxRecvBytes = 1 << 20;
constexpr int kMaxFds = 16;
constexpr uint32_t kMaxTimeoutMs = 60'000;

[[noreturn]] void throwErrno(Napi::Env env, const std::string& what, int err) {
  throw Napi::Error::New(env, what + ": " + std::strerror(err));
}

// Waits for `events` on fd; throws on timeout or error.
void waitFor(Napi::Env env, int fd, short events, uint32_t timeoutMs, const char* what) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(timeoutMs));
    if (r > 0) return;
    if (r == 0) throw Napi::Error::New(env, std::string(what) + ": no answer within " + std::to_string(timeoutMs) + " ms");
    if (errno != EINTR) throwErrno(env, what, errno);
  }
}

uint32_t timeoutArg(const Napi::CallbackInfo& info, size_t i, const char* method) {
  uint32_t ms = requireUint32(info, i, method, "timeoutMs");
  if (ms == 0 || ms > kMaxTimeoutMs) throw Napi::RangeError::New(info.Env(), std::string(method) + ": timeoutMs must be from 1 to 60000");
  return ms;
}

int fdArg(const Napi::CallbackInfo& info, size_t i, const char* method) {
  uint32_t fd = requireUint32(info, i, method, "fd");
  if (fd > 1'000'000) throw Napi::RangeError::New(info.Env(), std::string(method) + ": fd out of range");
  return static_cast<int>(fd);
}

// connect(path, timeoutMs) -> fd. A path starting with NUL names an abstract socket.
Napi::Value connectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = requireString(info, 0, "unixFdSocket.connect", "path");
  uint32_t ms = timeoutArg(info, 1, "unixFdSocket.connect");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) throw Napi::RangeError::New(env, "unixFdSocket.connect: socket path is empty or too long");
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throwErrno(env, "unixFdSocket.connect: socket", errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int err = errno;
    if (err != EINPROGRESS && err != EAGAIN) { ::close(fd); throwErrno(env, "unixFdSocket.connect", err); }
    try { waitFor(env, fd, POLLOUT, ms, "unixFdSocket.connect"); } catch (...) { ::close(fd); throw; }
    int soerr = 0; socklen_t sl = sizeof(soerr);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) { ::close(fd); throwErrno(env, "unixFdSocket.connect", soerr); }
  }
  return Napi::Number::New(env, fd);
}

// send(fd, bytes, timeoutMs): writes all of bytes.
Napi::Value sendAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fdArg(info, 0, "unixFdSocket.send");
  Bytes b = requireBytes(info, 1, "unixFdSocket.send", "bytes");
  uint32_t ms = timeoutArg(info, 2, "unixFdSocket.send");
  size_t off = 0;
  while (off < b.length) {
    ssize_t n = ::send(fd, b.data + off, b.length - off, MSG_NOSIGNAL);
    if (n > 0) { off += static_cast<size_t>(n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { waitFor(env, fd, POLLOUT, ms, "unixFdSocket.send"); continue; }
    throwErrno(env, "unixFdSocket.send", errno);
  }
  return env.Undefined();
}

// recv(fd, maxBytes, timeoutMs) -> { data: Buffer, fds: number[] }; empty data means the peer closed.
Napi::Value recvWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = fdArg(info, 0, "unixFdSocket.recv");
  uint32_t max = requireUint32(info, 1, "unixFdSocket.recv", "maxBytes");
  if (max == 0 || max > kMaxRecvBytes) throw Napi::RangeError::New(env, "unixFdSocket.recv: maxBytes must be from 1 to 1048576");
  uint32_t ms = timeoutArg(info, 2, "unixFdSocket.recv");
  std::vector<uint8_t> data(max);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  ssize_t n;
  msghdr msg{};
  for (;;) {
    iovec iov{data.data(), data.size()};
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) { waitFor(env, fd, POLLIN, ms, "unixFdSocket.recv"); continue; }
    throwErrno(env, "unixFdSocket.recv", errno);
  }
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(got);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (int f : fds) ::close(f);
    throw Napi::Error::New(env, "unixFdSocket.recv: more descriptors arrived than allowed (16); they were closed");
  }
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), static_cast<size_t>(n)));
  result.Set("fds", out);
  return result;
}

Napi::Value closeFd(const Napi::CallbackInfo& info) {
  int fd = fdArg(info, 0, "unixFdSocket.close");
  ::close(fd);
  return info.Env().Undefined();
}

}  // namespace

void registerUnixFdSocket(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("connect", Napi::Function::New(env, connectUnix, "connect"));
  o.Set("send", Napi::Function::New(env, sendAll, "send"));
  o.Set("recv", Napi::Function::New(env, recvWithFds, "recv"));
  o.Set("close", Napi::Function::New(env, closeFd, "close"));
  exports.Set("unixFdSocket", o);
}

}  // namespace roam::napi
