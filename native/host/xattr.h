// User extended attributes of a path (never following a symlink), for the home
// store: snapshots carry `user.*` attributes and materialise writes them back.
// Other namespaces (security.*, trusted.*, system.*) are host policy — SELinux
// labels, ACLs — and never travel between machines.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace roam::host {

using Xattr = std::pair<std::string, std::vector<uint8_t>>;

// Bounds on what a path may carry (and what a peer may send): keeps a hostile tree small.
constexpr size_t kMaxXattrs = 64;
constexpr size_t kMaxXattrNameBytes = 255;
constexpr size_t kMaxXattrValueBytes = 64 * 1024;

// The path's user.* attributes, sorted by name. A filesystem without xattr support gives none.
// Throws std::runtime_error (with errno text) on other failures or when a bound is exceeded.
std::vector<Xattr> readUserXattrs(const std::string& path);

// Makes the path's user.* attributes exactly `attrs`: removes the others, sets these.
// Throws std::invalid_argument for a name outside user.* or over a bound, std::runtime_error on failure.
void writeUserXattrs(const std::string& path, const std::vector<Xattr>& attrs);

}  // namespace roam::host
