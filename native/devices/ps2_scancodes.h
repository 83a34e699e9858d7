// Scancode set 2 -> set 1, as the i8042 translates keyboard bytes when command-byte bit 6 is set.
// Break codes (F0 xx in set 2) become the make code with bit 7 set; E0/E1 prefixes pass unchanged.
#pragma once
#include <cstdint>

namespace roam::devices {

// The set 1 code of set 2 code `set2` (< 0x80 or one of the few high ones, e.g. F7 = 0x83), or 0
// when no key has that code.
uint8_t set2ToSet1(uint8_t set2);

}  // namespace roam::devices
