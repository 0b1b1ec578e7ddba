#include "drivers/block/ata_identify.hpp"

namespace halcyon::drivers::block::ata {
namespace {

// Words 83, 84 and 87 are valid only when bits 15:14 read 01b (ACS-3 7.12.7.42 and others).
bool valid_feature_word(uint16_t word) {
    return (word & 0xC000) == 0x4000;
}

} // namespace

void copy_ata_string(char* out, size_t out_size, const uint16_t* words, size_t word_count) {
    uint8_t bytes[64];
    size_t length = 0;
    for (size_t i = 0; i < word_count && length + 2 <= sizeof(bytes); ++i) {
        bytes[length++] = static_cast<uint8_t>(words[i] >> 8);
        bytes[length++] = static_cast<uint8_t>(words[i]);
    }
    copy_trimmed(out, out_size, bytes, length);
}

ErrorOr<IdentifyInfo> parse_identify(std::span<const uint16_t, kIdentifyWords> words) {
    if ((words[0] & 0x8000) != 0)
        return Error(ErrorCode::not_supported, "ATA device is not a disk (ATAPI identify data)");
    if ((words[0] & 0x0004) != 0)
        return Error(ErrorCode::io, "ATA identify data is incomplete");
    IdentifyInfo info;
    copy_ata_string(info.serial, sizeof(info.serial), &words[10], 10);
    copy_ata_string(info.model, sizeof(info.model), &words[27], 20);
    if ((words[49] & (1u << 9)) == 0)
        return Error(ErrorCode::not_supported, "ATA device does not support LBA addressing");

    const uint16_t supported83 = valid_feature_word(words[83]) ? words[83] : 0;
    const uint16_t supported84 = valid_feature_word(words[84]) ? words[84] : 0;
    // Words 85-87 are the enabled copies; 87 bits 15:14 vouch for the set.
    const bool enabled_valid = valid_feature_word(words[87]);
    info.lba48 = (supported83 & (1u << 10)) != 0;
    if (info.lba48) {
        info.sectors = uint64_t(words[100]) | uint64_t(words[101]) << 16 |
                       uint64_t(words[102]) << 32 | uint64_t(words[103]) << 48;
    } else {
        info.sectors = uint64_t(words[60]) | uint64_t(words[61]) << 16;
    }
    info.write_cache_supported = (words[82] & (1u << 5)) != 0 && words[82] != 0xFFFF;
    // Without trustworthy "enabled" words, a supported cache is assumed on (the safe side).
    info.write_cache_enabled =
        info.write_cache_supported && (!enabled_valid || (words[85] & (1u << 5)) != 0);
    info.flush_cache = (supported83 & (1u << 12)) != 0;
    info.flush_cache_ext = info.lba48 && (supported83 & (1u << 13)) != 0;
    info.fua_ext = info.lba48 && (supported84 & (1u << 6)) != 0 &&
                   (!enabled_valid || (words[87] & (1u << 6)) != 0);

    // Word 106: bits 15:14 = 01b make it valid; bit 12 says words 117-118 hold the logical
    // sector size in words.
    const uint16_t sizes = words[106];
    if ((sizes & 0xC000) == 0x4000 && (sizes & (1u << 12)) != 0) {
        const uint32_t logical_words = uint32_t(words[117]) | uint32_t(words[118]) << 16;
        const uint64_t bytes = uint64_t(logical_words) * 2;
        if (bytes < 512 || bytes > 65536 || (bytes & (bytes - 1)) != 0)
            return Error(ErrorCode::not_supported,
                         "ATA logical sector size is not a power of two from 512 to 64 KiB");
        info.sector_size = static_cast<uint32_t>(bytes);
    }
    if (info.sectors == 0)
        return Error(ErrorCode::not_supported, "ATA device reports no addressable sectors");
    return info;
}

} // namespace halcyon::drivers::block::ata
