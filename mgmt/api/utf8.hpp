// UTF-8 validity (RFC 3629): what the JSON reader accepts inside strings and what the JSON writer
// lets through unchanged. Overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points
// above U+10FFFF are invalid.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt {

// Length (1..4) of the valid UTF-8 sequence at `bytes`, looking at no more than `available`
// bytes, or 0 if the bytes there are not a complete valid sequence.
[[nodiscard]] size_t utf8_sequence_length(const uint8_t* bytes, size_t available);

// Encodes a Unicode scalar value (not a surrogate, at most U+10FFFF) into `out` (4 bytes of room)
// and returns the number of bytes written.
size_t utf8_encode(uint32_t code_point, uint8_t* out);

} // namespace halcyon::mgmt
