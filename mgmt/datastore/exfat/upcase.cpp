#include "mgmt/datastore/exfat/upcase.hpp"

#include <string.h>

namespace halcyon::exfat {
namespace {

constexpr uint32_t kCharacters = 65536;
constexpr uint16_t kRunMarker = 0xFFFF;

// Expands `entries` stored entries (entry_at(i) reads one) into the 65536-entry map.
template <typename EntryAt>
ErrorOr<Buffer> expand(Allocator& allocator, size_t entries, EntryAt entry_at) {
    Buffer map = TRY(Buffer::allocate(allocator, kCharacters * sizeof(uint16_t)));
    uint16_t* table = map.as<uint16_t>();
    for (uint32_t c = 0; c < kCharacters; ++c)
        table[c] = static_cast<uint16_t>(c);

    uint32_t next = 0; // next character the table describes
    for (size_t i = 0; i < entries; ++i) {
        uint16_t value = entry_at(i);
        // 0xFFFF followed by a count is a run of identity mappings. As the very last entry it
        // can only be the mapping of U+FFFF itself.
        if (value == kRunMarker && i + 1 < entries) {
            uint32_t run = entry_at(++i);
            if (next + run > kCharacters)
                return Error(ErrorCode::corrupt, "exfat: up-case table run goes past U+FFFF");
            next += run;
            continue;
        }
        if (next >= kCharacters)
            return Error(ErrorCode::corrupt, "exfat: up-case table maps more than 65536 chars");
        table[next++] = value;
    }
    // Table 24: the first 128 mappings are mandatory (only a-z change).
    for (uint32_t c = 0; c < 128; ++c) {
        uint16_t expected = static_cast<uint16_t>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        if (table[c] != expected)
            return Error(ErrorCode::corrupt,
                         "exfat: up-case table breaks the mandatory ASCII mappings");
    }
    return map;
}

} // namespace

ErrorOr<void> UpcaseTable::load(Allocator& allocator, std::span<const uint8_t> stored) {
    if (stored.empty() || stored.size() % 2 != 0)
        return Error(ErrorCode::corrupt, "exfat: up-case table length is zero or odd");
    if (stored.size() > kMaxUpcaseTableBytes)
        return Error(ErrorCode::corrupt, "exfat: up-case table is larger than 128 KiB");
    map_ = TRY(expand(allocator, stored.size() / 2, [&](size_t i) {
        // Little-endian 16-bit entries; the bytes may be unaligned.
        return static_cast<uint16_t>(stored[2 * i] | stored[2 * i + 1] << 8);
    }));
    return {};
}

ErrorOr<void> UpcaseTable::load_recommended(Allocator& allocator) {
    map_ = TRY(expand(allocator, kRecommendedUpcaseEntries,
                      [](size_t i) { return kRecommendedUpcaseTable[i]; }));
    return {};
}

} // namespace halcyon::exfat
