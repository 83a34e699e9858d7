// The container format of a saved machine: a fixed header and a list of named, versioned,
// checksummed sections (layout in FORMAT.md). This layer knows nothing about KVM: it writes and
// validates the container; state/section_policy.* decides which section names this roam knows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace roam::state {

constexpr char kMagic[8] = {'R', 'O', 'A', 'M', 'V', 'M', 'S', 'T'};
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 0;
constexpr size_t kHeaderBytes = 32;
constexpr size_t kMaxHeaderBytes = 4096;     // a later 1.x may grow the header up to this
constexpr size_t kMaxSectionName = 64;
constexpr uint32_t kSectionOptional = 1u << 0;  // a reader that does not know it may skip it

// Builds a state file in memory. Sections are written in the order they are added.
class StateWriter {
 public:
  explicit StateWriter(uint16_t major = kFormatMajor, uint16_t minor = kFormatMinor);
  // Throws std::invalid_argument for a bad or duplicate name.
  void add(const std::string& name, uint32_t version, uint32_t flags, const void* payload, size_t len);
  void add(const std::string& name, uint32_t version, uint32_t flags, const std::vector<uint8_t>& payload) {
    add(name, version, flags, payload.data(), payload.size());
  }
  // Fills in total length, section count and the header checksum; the writer is spent afterwards.
  std::vector<uint8_t> finish();

 private:
  std::vector<uint8_t> out_;
  std::vector<std::string> names_;
  bool finished_ = false;
};

// One section of a parsed file; `payload` points into the caller's buffer.
struct SectionView {
  std::string name;
  uint32_t version = 0;
  uint32_t flags = 0;
  const uint8_t* payload = nullptr;
  uint64_t length = 0;
  uint64_t offset = 0;   // byte offset of the section record in the file
  bool optional() const { return (flags & kSectionOptional) != 0; }
};

struct ParsedState {
  uint16_t major = 0, minor = 0;
  std::vector<SectionView> sections;
};

// Validates the container (magic, version, every length against the buffer, checksums, names,
// duplicates) and returns views of the sections. Throws std::runtime_error with a message that
// says what is wrong and where.
ParsedState parseState(const uint8_t* data, size_t len);

// True for names made of [A-Za-z0-9._-], 1..kMaxSectionName bytes.
bool validSectionName(const std::string& name);

}  // namespace roam::state
