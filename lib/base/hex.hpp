// One hexadecimal digit's value, for every parser of hex text (GUIDs, keys, MAC addresses).
#pragma once

namespace halcyon {

// Value of one hex digit (either case), or -1.
[[nodiscard]] constexpr int hex_digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace halcyon
