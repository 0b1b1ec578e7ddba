// Shared by the datastore unit tests: disk images in memory with a GPT or MBR partition table
// (built here from the UEFI specification's layout, independently of the code under test) and
// exFAT volumes formatted into them.
#pragma once

#include "mgmt/datastore/exfat/format.hpp"
#include "mgmt/datastore/exfat/testing/memory_sector_device.hpp"
#include "mgmt/datastore/partition_table.hpp"
#include "mgmt/datastore/sector_window.hpp"
#include "tests/unit/exfat_test_support.hpp"

#include <cstring>
#include <string>
#include <vector>

namespace halcyon::datastore::testing {

using exfat::testing::FixedClock;
using exfat::testing::MemorySectorDevice;

inline void put32(std::vector<uint8_t>& image, size_t at, uint32_t value) {
    std::memcpy(image.data() + at, &value, 4);
}
inline void put64(std::vector<uint8_t>& image, size_t at, uint64_t value) {
    std::memcpy(image.data() + at, &value, 8);
}

struct GptPartitionSpec {
    uint64_t first;
    uint64_t last;
    uint32_t slot = 0; // entry index in the array
};

// A protective MBR, a primary GPT header at LBA 1 and 128 entries of 128 bytes at LBA 2 (512-byte
// sectors). `corrupt_entries` flips a byte in the entry array after the CRCs are computed.
inline void write_gpt(std::vector<uint8_t>& image, const std::vector<GptPartitionSpec>& parts,
                      bool corrupt_entries = false) {
    const uint64_t sectors = image.size() / 512;
    std::memset(image.data(), 0, 512 * 34);
    image[446 + 4] = 0xEE; // protective MBR entry
    put32(image, 446 + 8, 1);
    put32(image, 446 + 12, static_cast<uint32_t>(sectors - 1));
    image[510] = 0x55;
    image[511] = 0xAA;
    const size_t entries = 2 * 512;
    for (const GptPartitionSpec& part : parts) {
        const size_t at = entries + part.slot * 128;
        for (int i = 0; i < 16; ++i)
            image[at + i] = static_cast<uint8_t>(0xA0 + i); // any non-zero type GUID
        put64(image, at + 32, part.first);
        put64(image, at + 40, part.last);
    }
    const uint32_t entries_crc = crc32_ieee({image.data() + entries, 128 * 128});
    const size_t header = 512;
    std::memcpy(image.data() + header, "EFI PART", 8);
    put32(image, header + 8, 0x00010000);
    put32(image, header + 12, 92);
    put64(image, header + 24, 1);
    put64(image, header + 32, sectors - 1);
    put64(image, header + 40, 34);
    put64(image, header + 48, sectors - 34);
    put64(image, header + 72, 2);
    put32(image, header + 80, 128);
    put32(image, header + 84, 128);
    put32(image, header + 88, entries_crc);
    put32(image, header + 16, crc32_ieee({image.data() + header, 92}));
    if (corrupt_entries)
        image[entries + 40] ^= 1;
}

// A classic MBR with up to four primary partitions (type, first LBA, count).
struct MbrPartitionSpec {
    uint8_t type;
    uint32_t first;
    uint32_t count;
};
inline void write_mbr(std::vector<uint8_t>& image, const std::vector<MbrPartitionSpec>& parts) {
    std::memset(image.data(), 0, 512);
    for (size_t i = 0; i < parts.size(); ++i) {
        const size_t at = 446 + i * 16;
        image[at + 4] = parts[i].type;
        put32(image, at + 8, parts[i].first);
        put32(image, at + 12, parts[i].count);
    }
    image[510] = 0x55;
    image[511] = 0xAA;
}

// Formats an exFAT volume with `label` over sectors [first, first + count) of `device`.
inline void format_at(MemorySectorDevice& device, uint64_t first, uint64_t count,
                      const char* label) {
    SectorWindow window(device, first, count);
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
    exfat::FormatOptions options;
    options.label = label;
    auto formatted = exfat::format(window, allocator, clock, options);
    ASSERT_FALSE(formatted.is_error()) << formatted.error().message();
}

} // namespace halcyon::datastore::testing
