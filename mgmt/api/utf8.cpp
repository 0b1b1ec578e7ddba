#include "mgmt/api/utf8.hpp"

namespace halcyon::mgmt {
namespace {

constexpr bool is_continuation(uint8_t byte) {
    return (byte & 0xC0) == 0x80;
}

} // namespace

size_t utf8_sequence_length(const uint8_t* bytes, size_t available) {
    if (available == 0)
        return 0;
    uint8_t lead = bytes[0];
    if (lead < 0x80)
        return 1;
    // RFC 3629 section 4 (the UTF8-2/3/4 productions): the second byte's range depends on the
    // lead byte; that is where overlong forms, surrogates and values above U+10FFFF are excluded.
    size_t length;
    uint8_t second_low = 0x80, second_high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead == 0xE0) {
        length = 3;
        second_low = 0xA0;
    } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
        length = 3;
    } else if (lead == 0xED) {
        length = 3;
        second_high = 0x9F;
    } else if (lead == 0xF0) {
        length = 4;
        second_low = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
        length = 4;
    } else if (lead == 0xF4) {
        length = 4;
        second_high = 0x8F;
    } else {
        return 0; // 0x80..0xC1 (continuation or overlong lead) and 0xF5..0xFF
    }
    if (available < length)
        return 0;
    if (bytes[1] < second_low || bytes[1] > second_high)
        return 0;
    for (size_t i = 2; i < length; ++i) {
        if (!is_continuation(bytes[i]))
            return 0;
    }
    return length;
}

size_t utf8_encode(uint32_t code_point, uint8_t* out) {
    if (code_point < 0x80) {
        out[0] = uint8_t(code_point);
        return 1;
    }
    if (code_point < 0x800) {
        out[0] = uint8_t(0xC0 | (code_point >> 6));
        out[1] = uint8_t(0x80 | (code_point & 0x3F));
        return 2;
    }
    if (code_point < 0x10000) {
        out[0] = uint8_t(0xE0 | (code_point >> 12));
        out[1] = uint8_t(0x80 | ((code_point >> 6) & 0x3F));
        out[2] = uint8_t(0x80 | (code_point & 0x3F));
        return 3;
    }
    out[0] = uint8_t(0xF0 | (code_point >> 18));
    out[1] = uint8_t(0x80 | ((code_point >> 12) & 0x3F));
    out[2] = uint8_t(0x80 | ((code_point >> 6) & 0x3F));
    out[3] = uint8_t(0x80 | (code_point & 0x3F));
    return 4;
}

} // namespace halcyon::mgmt
