// GUIDs as stored by VHDX: 16 bytes in the Windows mixed-endian layout (Data1..Data3 little
// endian, Data4 as bytes), so the in-memory value is exactly the on-disk value.
#pragma once

#include "vhdx/random_source.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vhdx {

struct Guid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];

    [[nodiscard]] bool is_zero() const;
    friend bool operator==(const Guid& a, const Guid& b);

    // A random (version 4) GUID.
    [[nodiscard]] static Guid random(RandomSource& random);
    // Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", optionally in braces. Returns false if
    // malformed.
    [[nodiscard]] static bool parse(const char* text, size_t length, Guid& out);
    // Writes the 36-character lower-case form plus a NUL into out (at least 37 bytes); with
    // braces, 38 characters plus NUL (at least 39 bytes).
    void format(std::span<char> out, bool braces = false) const;
};
static_assert(sizeof(Guid) == 16);

// For constants: Guid{0x2dc27766, 0xf623, 0x4200, {0x9d, 0x64, ...}}.

} // namespace halcyon::vhdx
