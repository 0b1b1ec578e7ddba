// Finding the partitions of a disk, so the datastore can live in one (the usual way to prepare a
// disk on any OS) or on the whole device. GPT (UEFI specification 2.10, section 5.3) when the
// protective MBR says so, else the four primary entries of a classic MBR. Read-only, pure code
// over exfat::SectorDevice: the core runs it on its disks, host tests on memory images.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::datastore {

enum class PartitionScheme : uint8_t { none, mbr, gpt };

struct Partition {
    uint32_t number = 0; // 1-based, as the table numbers it (GPT entry index + 1, MBR slot + 1)
    uint64_t first_sector = 0;
    uint64_t sector_count = 0;
};

struct PartitionTable {
    static constexpr uint32_t kMaxPartitions = 16; // more are ignored (a datastore disk has one)
    PartitionScheme scheme = PartitionScheme::none;
    uint32_t count = 0;
    Partition partitions[kMaxPartitions];
};

// Reads sector 0 (and for GPT its header and entry array). A disk with neither table gives
// scheme none and no partitions. A GPT whose header or entries fail their CRC, or describe
// partitions outside the disk, is an error naming what is wrong: the disk is then not searched
// (a damaged table is no reason to guess).
[[nodiscard]] ErrorOr<PartitionTable> read_partition_table(exfat::SectorDevice& device);

// The CRC-32 of IEEE 802.3 (reflected, polynomial 0x04C11DB7), as GPT uses it.
[[nodiscard]] uint32_t crc32_ieee(std::span<const uint8_t> bytes, uint32_t crc = 0);

[[nodiscard]] const char* scheme_name(PartitionScheme scheme);

} // namespace halcyon::datastore
