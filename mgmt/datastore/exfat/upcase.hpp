// The up-case table (7.2.5): how names compare case-insensitively. Every volume carries its own;
// mount loads it (compressed or not), format records the specification's recommended one.
#pragma once

#include "mgmt/datastore/exfat/memory.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::exfat {

inline constexpr size_t kRecommendedUpcaseEntries = 2918;
inline constexpr uint32_t kRecommendedUpcaseChecksum = 0xE619D30D;
extern const uint16_t kRecommendedUpcaseTable[kRecommendedUpcaseEntries];

// Largest stored table we accept: an uncompressed table of all 65536 characters is 128 KiB; a
// compressed one is smaller. Anything larger is corruption.
inline constexpr uint64_t kMaxUpcaseTableBytes = 128 * 1024;

class UpcaseTable {
public:
    // Expands a stored table (`stored` is its on-disk bytes; the caller has verified the
    // TableChecksum). Characters the table does not reach map to themselves. Errors name what is
    // wrong: odd length, a run past U+FFFF, or a wrong mapping among the mandatory first 128.
    [[nodiscard]] ErrorOr<void> load(Allocator& allocator, std::span<const uint8_t> stored);
    // The recommended table, without any I/O (for format and for tests).
    [[nodiscard]] ErrorOr<void> load_recommended(Allocator& allocator);

    [[nodiscard]] uint16_t upcase(uint16_t c) const { return map_.as<uint16_t>()[c]; }
    [[nodiscard]] bool loaded() const { return map_.size() != 0; }
    void release() { map_.release(); }

private:
    Buffer map_; // 65536 entries
};

} // namespace halcyon::exfat
