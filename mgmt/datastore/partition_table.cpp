#include "mgmt/datastore/partition_table.hpp"

#include <string.h>

namespace halcyon::datastore {
namespace {

constexpr uint32_t kMaxSectorSize = 4096;
constexpr size_t kMbrEntries = 446;
constexpr uint16_t kMbrSignature = 0xAA55;
constexpr uint8_t kTypeProtectiveGpt = 0xEE;
constexpr uint8_t kTypeExtendedChs = 0x05;
constexpr uint8_t kTypeExtendedLba = 0x0F;
constexpr uint8_t kTypeExtendedLinux = 0x85;
constexpr char kGptSignature[8] = {'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T'};
// A GPT header is 92 bytes in revision 1.0; larger headers are allowed up to a sector.
constexpr uint32_t kGptHeaderMinSize = 92;
// Entries are read one sector at a time; 128-byte entries are the norm, any multiple of 128
// (a power of two) is allowed.
constexpr uint32_t kGptMaxEntries = 1024;

struct [[gnu::packed]] MbrEntry {
    uint8_t status;
    uint8_t chs_first[3];
    uint8_t type;
    uint8_t chs_last[3];
    uint32_t first_lba;
    uint32_t sector_count;
};
static_assert(sizeof(MbrEntry) == 16);

struct GptHeader {
    char signature[8];
    uint32_t revision;
    uint32_t header_size;
    uint32_t header_crc32;
    uint32_t reserved;
    uint64_t my_lba;
    uint64_t alternate_lba;
    uint64_t first_usable_lba;
    uint64_t last_usable_lba;
    uint8_t disk_guid[16];
    uint64_t partition_entry_lba;
    uint32_t number_of_partition_entries;
    uint32_t size_of_partition_entry;
    uint32_t partition_entry_array_crc32;
};
static_assert(sizeof(GptHeader) == kGptHeaderMinSize + 4); // trailing padding to 8-byte alignment

struct GptEntry {
    uint8_t type_guid[16];
    uint8_t unique_guid[16];
    uint64_t starting_lba;
    uint64_t ending_lba;
    uint64_t attributes;
    uint16_t name[36];
};
static_assert(sizeof(GptEntry) == 128);

template <typename T>
T load(const uint8_t* bytes) {
    T value;
    memcpy(&value, bytes, sizeof(T));
    return value;
}

bool all_zero(const uint8_t* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i)
        if (bytes[i] != 0)
            return false;
    return true;
}

ErrorOr<void> read_gpt(exfat::SectorDevice& device, uint8_t* sector, PartitionTable& table) {
    const uint32_t sector_size = device.sector_size();
    TRY(device.read(1, std::span(sector, sector_size)));
    const auto header = load<GptHeader>(sector);
    if (memcmp(header.signature, kGptSignature, sizeof(kGptSignature)) != 0)
        return Error(ErrorCode::corrupt, "the protective MBR announces a GPT, but LBA 1 holds no "
                                         "GPT header");
    if (header.header_size < kGptHeaderMinSize || header.header_size > sector_size)
        return Error(ErrorCode::corrupt, "the GPT header size is out of range");
    uint8_t copy[kMaxSectorSize];
    memcpy(copy, sector, header.header_size);
    memset(copy + offsetof(GptHeader, header_crc32), 0, sizeof(uint32_t));
    if (crc32_ieee(std::span(copy, header.header_size)) != header.header_crc32)
        return Error(ErrorCode::corrupt, "the GPT header fails its CRC-32");
    if (header.my_lba != 1)
        return Error(ErrorCode::corrupt, "the GPT header at LBA 1 says it is elsewhere");
    const uint32_t entry_size = header.size_of_partition_entry;
    if (entry_size < sizeof(GptEntry) || (entry_size & (entry_size - 1)) != 0 ||
        entry_size > sector_size)
        return Error(ErrorCode::corrupt, "the GPT partition entry size is invalid");
    if (header.number_of_partition_entries > kGptMaxEntries)
        return Error(ErrorCode::not_supported, "the GPT has more than 1024 partition entries");
    const uint64_t sectors = device.sector_count();
    const uint64_t array_bytes = uint64_t(header.number_of_partition_entries) * entry_size;
    const uint64_t array_sectors = (array_bytes + sector_size - 1) / sector_size;
    if (header.partition_entry_lba < 2 || header.partition_entry_lba >= sectors ||
        array_sectors > sectors - header.partition_entry_lba)
        return Error(ErrorCode::corrupt, "the GPT partition entry array lies outside the disk");
    if (header.first_usable_lba > header.last_usable_lba || header.last_usable_lba >= sectors)
        return Error(ErrorCode::corrupt, "the GPT usable range lies outside the disk");

    uint32_t crc = 0;
    uint32_t index = 0;
    for (uint64_t s = 0; s < array_sectors; ++s) {
        TRY(device.read(header.partition_entry_lba + s, std::span(sector, sector_size)));
        const uint64_t remaining = array_bytes - s * sector_size;
        const uint32_t bytes =
            remaining < sector_size ? static_cast<uint32_t>(remaining) : sector_size;
        crc = crc32_ieee(std::span(sector, bytes), crc);
        for (uint32_t offset = 0; offset < bytes; offset += entry_size, ++index) {
            const auto entry = load<GptEntry>(sector + offset);
            if (all_zero(entry.type_guid, sizeof(entry.type_guid)))
                continue; // unused entry
            if (entry.starting_lba < header.first_usable_lba ||
                entry.ending_lba < entry.starting_lba || entry.ending_lba > header.last_usable_lba)
                return Error(ErrorCode::corrupt,
                             "a GPT partition lies outside the disk's usable range");
            if (table.count == PartitionTable::kMaxPartitions)
                continue;
            table.partitions[table.count++] =
                Partition{index + 1, entry.starting_lba, entry.ending_lba - entry.starting_lba + 1};
        }
    }
    if (crc != header.partition_entry_array_crc32) {
        table.count = 0;
        return Error(ErrorCode::corrupt, "the GPT partition entry array fails its CRC-32");
    }
    table.scheme = PartitionScheme::gpt;
    return {};
}

} // namespace

uint32_t crc32_ieee(std::span<const uint8_t> bytes, uint32_t crc) {
    crc = ~crc;
    for (uint8_t byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

const char* scheme_name(PartitionScheme scheme) {
    switch (scheme) {
    case PartitionScheme::mbr:
        return "MBR";
    case PartitionScheme::gpt:
        return "GPT";
    case PartitionScheme::none:
        break;
    }
    return "none";
}

ErrorOr<PartitionTable> read_partition_table(exfat::SectorDevice& device) {
    PartitionTable table;
    const uint32_t sector_size = device.sector_size();
    if (sector_size < 512 || sector_size > kMaxSectorSize || device.sector_count() < 2)
        return table;
    uint8_t sector[kMaxSectorSize];
    TRY(device.read(0, std::span(sector, sector_size)));
    if (load<uint16_t>(sector + 510) != kMbrSignature)
        return table;
    MbrEntry entries[4];
    for (int i = 0; i < 4; ++i)
        entries[i] = load<MbrEntry>(sector + kMbrEntries + i * sizeof(MbrEntry));
    for (const MbrEntry& entry : entries) {
        if (entry.type == kTypeProtectiveGpt) {
            TRY(read_gpt(device, sector, table));
            return table;
        }
    }
    // An exFAT (or FAT) boot sector also ends in 55 AA; its "partition entries" are boot code.
    // A real MBR's entries have status 00 or 80 and lie inside the disk.
    const uint64_t sectors = device.sector_count();
    PartitionTable mbr;
    mbr.scheme = PartitionScheme::mbr;
    for (uint32_t i = 0; i < 4; ++i) {
        const MbrEntry& entry = entries[i];
        if (entry.status != 0x00 && entry.status != 0x80)
            return table;
        if (entry.type == 0 || entry.sector_count == 0)
            continue;
        if (entry.first_lba == 0 || entry.first_lba >= sectors ||
            entry.sector_count > sectors - entry.first_lba)
            return table;
        if (entry.type == kTypeExtendedChs || entry.type == kTypeExtendedLba ||
            entry.type == kTypeExtendedLinux)
            continue; // logical partitions are not searched
        mbr.partitions[mbr.count++] = Partition{i + 1, entry.first_lba, entry.sector_count};
    }
    return mbr;
}

} // namespace halcyon::datastore
