#include "host/xattr.h"

#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace roam::host {

namespace {

bool isUserName(const std::string& name) { return name.rfind("user.", 0) == 0 && name.size() > 5; }

[[noreturn]] void fail(const char* what, const std::string& path, int err) {
  throw std::runtime_error(std::string(what) + " " + path + ": " + std::strerror(err));
}

// Names as llistxattr reports them: NUL-separated. Retries when the list grows between calls.
std::vector<std::string> listNames(const std::string& path) {
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t size = llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENOTSUP) return {};
      fail("listing extended attributes of", path, errno);
    }
    std::vector<char> buf(static_cast<size_t>(size) + 1);
    ssize_t got = llistxattr(path.c_str(), buf.data(), buf.size());
    if (got < 0) {
      if (errno == ERANGE) continue;
      fail("listing extended attributes of", path, errno);
    }
    std::vector<std::string> names;
    for (ssize_t i = 0; i < got;) {
      std::string name(buf.data() + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      if (isUserName(name)) names.push_back(std::move(name));
    }
    return names;
  }
  throw std::runtime_error("extended attributes of " + path + " keep changing");
}

}  // namespace

std::vector<Xattr> readUserXattrs(const std::string& path) {
  std::vector<std::string> names = listNames(path);
  if (names.size() > kMaxXattrs) throw std::runtime_error(path + " has more than " + std::to_string(kMaxXattrs) + " user extended attributes");
  std::vector<Xattr> out;
  for (const std::string& name : names) {
    if (name.size() > kMaxXattrNameBytes) throw std::runtime_error("extended attribute name too long on " + path);
    std::vector<uint8_t> value(kMaxXattrValueBytes);
    ssize_t got = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (got < 0) {
      if (errno == ENODATA) continue;  // removed since the listing
      if (errno == ERANGE) throw std::runtime_error("extended attribute " + name + " of " + path + " is larger than 64 KiB");
      fail("reading extended attribute of", path, errno);
    }
    value.resize(static_cast<size_t>(got));
    out.emplace_back(name, std::move(value));
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.first < b.first; });
  return out;
}

void writeUserXattrs(const std::string& path, const std::vector<Xattr>& attrs) {
  if (attrs.size() > kMaxXattrs) throw std::invalid_argument("more than " + std::to_string(kMaxXattrs) + " extended attributes");
  for (const Xattr& a : attrs) {
    if (!isUserName(a.first) || a.first.size() > kMaxXattrNameBytes || a.first.find('\0') != std::string::npos) {
      throw std::invalid_argument("extended attribute name '" + a.first + "' is not a user.* name of at most 255 bytes");
    }
    if (a.second.size() > kMaxXattrValueBytes) throw std::invalid_argument("extended attribute " + a.first + " is larger than 64 KiB");
  }
  for (const std::string& name : listNames(path)) {
    bool keep = std::any_of(attrs.begin(), attrs.end(), [&](const Xattr& a) { return a.first == name; });
    if (!keep && lremovexattr(path.c_str(), name.c_str()) != 0 && errno != ENODATA) fail("removing extended attribute of", path, errno);
  }
  for (const Xattr& a : attrs) {
    if (lsetxattr(path.c_str(), a.first.c_str(), a.second.data(), a.second.size(), 0) != 0) fail("setting extended attribute of", path, errno);
  }
}

}  // namespace roam::host
