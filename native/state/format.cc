#include "format.h"

#include <cstring>
#include <set>
#include <stdexcept>

#include "byte_order.h"
#include "crc32.h"

namespace roam::state {
namespace {

// Header field offsets (FORMAT.md).
constexpr size_t kOffMajor = 8, kOffMinor = 10, kOffHeaderLen = 12, kOffTotal = 16, kOffCount = 24, kOffCrc = 28;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

}  // namespace

bool validSectionName(const std::string& name) {
  if (name.empty() || name.size() > kMaxSectionName) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

StateWriter::StateWriter(uint16_t major, uint16_t minor) {
  out_.reserve(kHeaderBytes);
  for (char c : kMagic) out_.push_back(uint8_t(c));
  putLe16(out_, major);
  putLe16(out_, minor);
  putLe32(out_, uint32_t(kHeaderBytes));
  putLe64(out_, 0);  // total length, patched by finish()
  putLe32(out_, 0);  // section count, patched by finish()
  putLe32(out_, 0);  // header checksum, patched by finish()
}

void StateWriter::add(const std::string& name, uint32_t version, uint32_t flags, const void* payload, size_t len) {
  if (finished_) throw std::logic_error("StateWriter: add() after finish()");
  if (!validSectionName(name))
    throw std::invalid_argument("state section name '" + name + "' is invalid: use 1.." +
                                std::to_string(kMaxSectionName) + " characters from [A-Za-z0-9._-]");
  for (const auto& n : names_)
    if (n == name) throw std::invalid_argument("state section '" + name + "' was added twice");
  names_.push_back(name);
  size_t start = out_.size();
  putLe16(out_, uint16_t(name.size()));
  out_.insert(out_.end(), name.begin(), name.end());
  putLe32(out_, version);
  putLe32(out_, flags);
  putLe64(out_, uint64_t(len));
  const auto* p = static_cast<const uint8_t*>(payload);
  if (len) out_.insert(out_.end(), p, p + len);
  putLe32(out_, crc32(0, out_.data() + start, out_.size() - start));
}

std::vector<uint8_t> StateWriter::finish() {
  if (finished_) throw std::logic_error("StateWriter: finish() called twice");
  finished_ = true;
  patchLe64(out_, kOffTotal, uint64_t(out_.size()));
  patchLe32(out_, kOffCount, uint32_t(names_.size()));
  patchLe32(out_, kOffCrc, crc32(0, out_.data(), kOffCrc));
  return std::move(out_);
}

ParsedState parseState(const uint8_t* data, size_t len) {
  if (data == nullptr || len < sizeof kMagic || std::memcmp(data, kMagic, sizeof kMagic) != 0)
    fail("not a roam state file: it does not start with \"ROAMVMST\"");
  if (len < kHeaderBytes)
    fail("state truncated at byte " + std::to_string(len) + " in the header (" + std::to_string(kHeaderBytes) +
         " bytes needed)");

  ParsedState st;
  st.major = getLe16(data + kOffMajor);
  st.minor = getLe16(data + kOffMinor);
  uint32_t storedCrc = getLe32(data + kOffCrc);
  if (crc32(0, data, kOffCrc) != storedCrc)
    fail("state header is corrupt (checksum mismatch): the file was damaged in storage or transit");
  if (st.major > kFormatMajor)
    fail("state format " + std::to_string(st.major) + "." + std::to_string(st.minor) + " is newer than this roam (" +
         std::to_string(kFormatMajor) + ".x): upgrade roam on this machine to restore it");
  if (st.major < kFormatMajor)
    fail("state format " + std::to_string(st.major) + "." + std::to_string(st.minor) +
         " is older than anything this roam (" + std::to_string(kFormatMajor) + ".x) reads");

  uint32_t headerLen = getLe32(data + kOffHeaderLen);
  uint64_t total = getLe64(data + kOffTotal);
  uint32_t count = getLe32(data + kOffCount);
  if (headerLen < kHeaderBytes || headerLen > kMaxHeaderBytes)
    fail("state header is corrupt: header length " + std::to_string(headerLen) + " is outside " +
         std::to_string(kHeaderBytes) + ".." + std::to_string(kMaxHeaderBytes));
  if (total > len && headerLen > len)
    fail("state truncated at byte " + std::to_string(len) + " in the header (" + std::to_string(headerLen) +
         " bytes needed)");
  if (total < len)
    fail("state has " + std::to_string(len - total) + " bytes after its end (the header says " +
         std::to_string(total) + " bytes): not one complete state file");

  std::set<std::string> seen;
  size_t pos = headerLen;
  for (uint32_t i = 0; i < count; i++) {
    const size_t start = pos;
    auto truncatedIn = [&](const std::string& where) {
      // The file has the length its header gives, so a field inside it is damaged, not the end cut off.
      if (total == len)
        fail("state " + where + " is corrupt: it runs past the end of the file (byte " + std::to_string(len) +
             "), though the file has the length its header gives");
      fail("state truncated at byte " + std::to_string(len) + " in " + where + " (the header says " +
           std::to_string(total) + " bytes)");
    };
    std::string label = "section #" + std::to_string(i + 1) + " of " + std::to_string(count);
    if (len - pos < 2) truncatedIn(label);
    uint16_t nameLen = getLe16(data + pos);
    pos += 2;
    if (nameLen == 0 || nameLen > kMaxSectionName)
      fail("state " + label + " at byte " + std::to_string(start) + " is corrupt: name length " +
           std::to_string(nameLen) + " is outside 1.." + std::to_string(kMaxSectionName));
    if (len - pos < nameLen) truncatedIn(label);
    SectionView s;
    s.name.assign(reinterpret_cast<const char*>(data + pos), nameLen);
    pos += nameLen;
    if (!validSectionName(s.name))
      fail("state " + label + " at byte " + std::to_string(start) + " is corrupt: its name is not [A-Za-z0-9._-]");
    label = "section '" + s.name + "'";
    if (len - pos < 16) truncatedIn(label);
    s.version = getLe32(data + pos);
    s.flags = getLe32(data + pos + 4);
    s.length = getLe64(data + pos + 8);
    pos += 16;
    if (s.length > len - pos) truncatedIn(label);
    s.payload = data + pos;
    pos += size_t(s.length);
    if (len - pos < 4) truncatedIn(label);
    uint32_t crc = getLe32(data + pos);
    if (crc32(0, data + start, pos - start) != crc)
      fail("state " + label + " is corrupt (checksum mismatch in bytes " + std::to_string(start) + ".." +
           std::to_string(pos + 4) + "): the file was damaged in storage or transit");
    pos += 4;
    if (!seen.insert(s.name).second) fail("state has section '" + s.name + "' twice: the file is malformed");
    s.offset = start;
    st.sections.push_back(std::move(s));
  }
  if (pos != total) {
    if (total > len)
      fail("state truncated at byte " + std::to_string(len) + " after section #" + std::to_string(count) +
           " (the header says " + std::to_string(total) + " bytes)");
    fail("state is corrupt: its " + std::to_string(count) + " sections end at byte " + std::to_string(pos) +
         " but the header says " + std::to_string(total) + " bytes");
  }
  return st;
}

}  // namespace roam::state
