#include "vhdx/guid.hpp"

#include "lib/base/hex.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

// Reads `digits` hex digits from text; false on a non-hex character.
bool read_hex(const char*& text, int digits, uint64_t& out) {
    out = 0;
    for (int i = 0; i < digits; ++i) {
        int value = hex_digit_value(*text++);
        if (value < 0)
            return false;
        out = out << 4 | static_cast<uint64_t>(value);
    }
    return true;
}

} // namespace

bool Guid::is_zero() const {
    return *this == Guid{};
}

bool operator==(const Guid& a, const Guid& b) {
    return memcmp(&a, &b, sizeof(Guid)) == 0;
}

Guid Guid::random(RandomSource& random) {
    Guid guid;
    uint8_t bytes[16];
    random.fill(bytes);
    memcpy(&guid, bytes, sizeof guid);
    guid.data3 = static_cast<uint16_t>((guid.data3 & 0x0FFF) | 0x4000);  // version 4
    guid.data4[0] = static_cast<uint8_t>((guid.data4[0] & 0x3F) | 0x80); // RFC 4122 variant
    return guid;
}

bool Guid::parse(const char* text, size_t length, Guid& out) {
    if (length == 38 && text[0] == '{' && text[37] == '}') {
        ++text;
        length = 36;
    }
    if (length != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
        return false;
    uint64_t value;
    Guid guid;
    if (!read_hex(text, 8, value))
        return false;
    guid.data1 = static_cast<uint32_t>(value);
    ++text;
    if (!read_hex(text, 4, value))
        return false;
    guid.data2 = static_cast<uint16_t>(value);
    ++text;
    if (!read_hex(text, 4, value))
        return false;
    guid.data3 = static_cast<uint16_t>(value);
    ++text;
    for (int i = 0; i < 8; ++i) {
        if (i == 2)
            ++text; // the dash between the 4th and 5th groups
        if (!read_hex(text, 2, value))
            return false;
        guid.data4[i] = static_cast<uint8_t>(value);
    }
    out = guid;
    return true;
}

void Guid::format(std::span<char> out, bool braces) const {
    static constexpr char kDigits[] = "0123456789abcdef";
    char* p = out.data();
    auto put = [&p](uint64_t value, int digits) {
        for (int i = digits - 1; i >= 0; --i)
            *p++ = kDigits[(value >> (i * 4)) & 0xF];
    };
    if (braces)
        *p++ = '{';
    put(data1, 8);
    *p++ = '-';
    put(data2, 4);
    *p++ = '-';
    put(data3, 4);
    *p++ = '-';
    put(data4[0], 2);
    put(data4[1], 2);
    *p++ = '-';
    for (int i = 2; i < 8; ++i)
        put(data4[i], 2);
    if (braces)
        *p++ = '}';
    *p = '\0';
}

} // namespace halcyon::vhdx
