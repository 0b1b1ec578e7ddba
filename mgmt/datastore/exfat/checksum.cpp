#include "mgmt/datastore/exfat/checksum.hpp"

#include "mgmt/datastore/exfat/layout.hpp"

namespace halcyon::exfat {
namespace {

// Rotate right by one, then add: the common step of every exFAT checksum.
inline uint32_t step32(uint32_t sum, uint8_t byte) {
    return (sum >> 1 | sum << 31) + byte;
}
inline uint16_t step16(uint16_t sum, uint8_t byte) {
    uint32_t wide = sum; // unsigned arithmetic: no promotion to int
    return static_cast<uint16_t>((wide >> 1 | wide << 15) + byte);
}

} // namespace

uint32_t boot_checksum(std::span<const uint8_t> sectors) {
    uint32_t sum = 0;
    for (size_t i = 0; i < sectors.size(); ++i) {
        if (i == layout::kVolumeFlagsOffset || i == layout::kVolumeFlagsOffset + 1 ||
            i == layout::kPercentInUseOffset)
            continue;
        sum = step32(sum, sectors[i]);
    }
    return sum;
}

void EntrySetChecksum::add(std::span<const uint8_t> entry, bool primary) {
    for (size_t i = 0; i < entry.size(); ++i) {
        if (primary && (i == 2 || i == 3))
            continue;
        value_ = step16(value_, entry[i]);
    }
}

uint16_t name_hash(std::span<const uint16_t> upcased_name) {
    uint16_t hash = 0;
    for (uint16_t c : upcased_name) {
        hash = step16(hash, static_cast<uint8_t>(c & 0xFF));
        hash = step16(hash, static_cast<uint8_t>(c >> 8));
    }
    return hash;
}

uint32_t table_checksum(std::span<const uint8_t> table, uint32_t seed) {
    uint32_t sum = seed;
    for (uint8_t byte : table)
        sum = step32(sum, byte);
    return sum;
}

} // namespace halcyon::exfat
