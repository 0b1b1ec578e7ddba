// UTF-8 <-> UTF-16LE for parent locator keys and values (stored as UTF-16LE by MS-VHDX).
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::vhdx {

// Bytes of UTF-16LE needed for text, or an error if text is not valid UTF-8.
[[nodiscard]] ErrorOr<size_t> utf16_length_of_utf8(std::string_view text);
// Encodes text into out (which must be utf16_length_of_utf8(text) bytes).
[[nodiscard]] ErrorOr<void> utf8_to_utf16le(std::string_view text, std::span<uint8_t> out);

// Bytes of UTF-8 needed for the UTF-16LE in data (odd length or bad surrogates are errors).
[[nodiscard]] ErrorOr<size_t> utf8_length_of_utf16le(std::span<const uint8_t> data);
[[nodiscard]] ErrorOr<void> utf16le_to_utf8(std::span<const uint8_t> data, std::span<char> out);

} // namespace halcyon::vhdx
