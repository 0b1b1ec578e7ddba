// Hexadecimal text for keys, nonces, digests and signatures (lowercase out, either case in).
#pragma once

#include "lib/base/hex.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

using halcyon::hex_digit_value; // lib/base/hex.hpp

// Writes 2 * bytes.size() lowercase digits to `out` (which must be that large); returns the
// text written.
std::string_view hex_encode(std::span<const uint8_t> bytes, std::span<char> out);

// Decodes exactly out.size() bytes from `text`, which must be exactly twice as long and all hex
// digits. Returns false (leaving `out` unspecified) otherwise.
[[nodiscard]] bool hex_decode(std::string_view text, std::span<uint8_t> out);

} // namespace halcyon::mgmt
