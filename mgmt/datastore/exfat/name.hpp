// File names: UTF-8 at the API, UTF-16 on disk (7.7.3), compared after up-casing.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/upcase.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::exfat {

// Longest UTF-8 form of a name: 255 UTF-16 units, at most 3 bytes each.
inline constexpr size_t kMaxNameUtf8 = layout::kMaxNameLength * 3;

struct Name {
    uint16_t chars[layout::kMaxNameLength];
    uint8_t length = 0;

    [[nodiscard]] std::span<const uint16_t> view() const { return {chars, length}; }
};

// Converts and validates a name for creating or finding an entry: 1..255 UTF-16 units, none of
// the characters table 35 forbids, not "." or "..". (Unpaired surrogates written as 3-byte
// sequences are accepted, so every name read from a volume round-trips.)
[[nodiscard]] ErrorOr<void> name_from_utf8(std::string_view text, Name& out);
// A volume label: same characters, at most 11 UTF-16 units, may be empty.
[[nodiscard]] ErrorOr<void> label_from_utf8(std::string_view text, Name& out);
// Writes the UTF-8 form of `name` into out; returns its length. out must hold kMaxNameUtf8.
[[nodiscard]] size_t name_to_utf8(std::span<const uint16_t> name, std::span<char> out);

// True when the characters are all allowed in a stored name.
[[nodiscard]] bool name_characters_valid(std::span<const uint16_t> name);
[[nodiscard]] bool names_equal(const UpcaseTable& upcase, std::span<const uint16_t> a,
                               std::span<const uint16_t> b);
[[nodiscard]] uint16_t name_hash_of(const UpcaseTable& upcase, std::span<const uint16_t> name);

} // namespace halcyon::exfat
