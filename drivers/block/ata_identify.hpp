// The parts of ATA IDENTIFY DEVICE data (ACS-3, 7.12.7) a disk driver needs: strings, capacity,
// logical sector size and the cache, flush and FUA features. Pure, so it is host-tested
// against hand-built identify data.
#pragma once

#include "drivers/block/block_device.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::drivers::block::ata {

inline constexpr size_t kIdentifyWords = 256;

struct IdentifyInfo {
    char model[kModelLength + 1] = {};
    char serial[kSerialLength + 1] = {};
    bool lba48 = false;
    uint64_t sectors = 0;       // addressable logical sectors
    uint32_t sector_size = 512; // logical sector bytes
    bool write_cache_supported = false;
    bool write_cache_enabled = false;
    bool flush_cache = false;     // FLUSH CACHE (E7h)
    bool flush_cache_ext = false; // FLUSH CACHE EXT (EAh)
    bool fua_ext = false;         // WRITE DMA FUA EXT (3Dh)
};

// Parses 256 little-endian words of IDENTIFY DEVICE. Fails for an ATAPI/incomplete response.
[[nodiscard]] ErrorOr<IdentifyInfo> parse_identify(std::span<const uint16_t, kIdentifyWords> words);

// ATA strings store two characters per word, first character in the high byte.
void copy_ata_string(char* out, size_t out_size, const uint16_t* words, size_t word_count);

} // namespace halcyon::drivers::block::ata
