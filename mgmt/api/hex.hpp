// Hexadecimal text for keys, nonces, digests and signatures (lowercase out, either case in).
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

// Value of one hex digit, or -1.
[[nodiscard]] constexpr int hex_digit_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Writes 2 * bytes.size() lowercase digits to `out` (which must be that large); returns the
// text written.
std::string_view hex_encode(std::span<const uint8_t> bytes, std::span<char> out);

// Decodes exactly out.size() bytes from `text`, which must be exactly twice as long and all hex
// digits. Returns false (leaving `out` unspecified) otherwise.
[[nodiscard]] bool hex_decode(std::string_view text, std::span<uint8_t> out);

} // namespace halcyon::mgmt
