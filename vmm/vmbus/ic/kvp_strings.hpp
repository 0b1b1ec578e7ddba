// UTF-8 <-> UTF-16LE for KVP keys and values: Hyper-V's KVP messages carry NUL-terminated
// UTF-16LE strings, Halcyon keeps UTF-8. Guest-supplied UTF-16 is never trusted: conversion
// stops at the buffer's end, replaces unpaired surrogates with U+FFFD and truncates at a code
// point boundary when the output is full.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::vmm::vmbus::ic {

// Encodes `text` (which must be valid UTF-8 without NUL) as UTF-16LE followed by a NUL unit into
// `out`; returns the bytes written including the terminator (what KVP's *_size fields hold).
// invalid_argument: malformed UTF-8 or an embedded NUL; out_of_range: it does not fit.
[[nodiscard]] ErrorOr<uint32_t> utf8_to_utf16le(std::string_view text, std::span<uint8_t> out);

// Whether `text` is valid UTF-8 without NUL (what utf8_to_utf16le accepts).
[[nodiscard]] bool valid_utf8(std::string_view text);

struct Utf8Conversion {
    uint32_t length = 0;    // UTF-8 bytes written (no terminator)
    bool truncated = false; // `out` was too small for the whole string
    bool replaced = false;  // invalid UTF-16 was replaced with U+FFFD
};
// Decodes UTF-16LE from `in` (an odd trailing byte is ignored) up to the first NUL unit or the
// end of `in`, into `out` as UTF-8.
[[nodiscard]] Utf8Conversion utf16le_to_utf8(std::span<const uint8_t> in, std::span<char> out);

} // namespace halcyon::vmm::vmbus::ic
