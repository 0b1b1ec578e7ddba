#include "mgmt/datastore/exfat/format.hpp"

#include "mgmt/datastore/exfat/boot_region.hpp"
#include "mgmt/datastore/exfat/checksum.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/name.hpp"
#include "mgmt/datastore/exfat/upcase.hpp"

#include <bit>
#include <string.h>

namespace halcyon::exfat {

using namespace layout;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint32_t kChunk = 64 * 1024;

uint64_t round_up(uint64_t value, uint64_t unit) {
    return (value + unit - 1) / unit * unit;
}

uint32_t automatic_cluster_size(uint64_t volume_bytes) {
    if (volume_bytes < 256 * kMiB)
        return 4096;
    if (volume_bytes < 32 * 1024 * kMiB)
        return 32 * 1024;
    return 128 * 1024;
}

// Writes `count` sectors from `buffer` (repeating it when it is shorter: used for zeros).
ErrorOr<void> write_repeated(SectorDevice& device, uint64_t sector, uint64_t count,
                             std::span<const uint8_t> buffer) {
    uint32_t sector_size = device.sector_size();
    uint64_t per_write = buffer.size() / sector_size;
    while (count > 0) {
        uint64_t n = count < per_write ? count : per_write;
        TRY(device.write(sector, buffer.first(n * sector_size)));
        sector += n;
        count -= n;
    }
    return {};
}

void set_fat(uint8_t* fat_chunk, uint64_t chunk_first_entry, uint64_t entries, uint64_t index,
             uint32_t value) {
    if (index >= chunk_first_entry && index < chunk_first_entry + entries)
        memcpy(fat_chunk + (index - chunk_first_entry) * 4, &value, 4);
}

} // namespace

ErrorOr<FormatResult> format(SectorDevice& device, Allocator& allocator, Clock& clock,
                             const FormatOptions& options) {
    if (device.read_only())
        return Error(ErrorCode::permission, "exfat: format: the device is read-only");
    uint32_t sector_size = device.sector_size();
    if (sector_size < 512 || sector_size > 4096 || !std::has_single_bit(sector_size))
        return Error(ErrorCode::not_supported, "exfat: format: sector size is not 512..4096");
    uint32_t sector_shift = static_cast<uint32_t>(std::countr_zero(sector_size));
    uint64_t volume_sectors =
        options.volume_sectors ? options.volume_sectors : device.sector_count();
    if (volume_sectors > device.sector_count())
        return Error(ErrorCode::invalid_argument, "exfat: format: volume larger than the device");
    uint64_t volume_bytes = volume_sectors << sector_shift;
    if (volume_bytes < kMiB)
        return Error(ErrorCode::invalid_argument, "exfat: format: volumes start at 1 MiB");
    uint32_t cluster_size =
        options.cluster_size ? options.cluster_size : automatic_cluster_size(volume_bytes);
    if (!std::has_single_bit(cluster_size) || cluster_size < sector_size ||
        cluster_size > (1u << kMaxClusterShift))
        return Error(ErrorCode::invalid_argument,
                     "exfat: format: cluster size must be a power of two, sector size..32 MiB");
    Name label;
    TRY(label_from_utf8(options.label, label));

    Geometry g;
    g.sector_shift = sector_shift;
    g.cluster_shift = static_cast<uint32_t>(std::countr_zero(cluster_size));
    g.volume_sectors = volume_sectors;
    // Align the FAT and the heap for the media: 1 MiB on anything but tiny volumes.
    uint64_t align = (volume_bytes >= 64 * kMiB ? kMiB : cluster_size) >> sector_shift;
    uint64_t cluster_sectors = cluster_size >> sector_shift;
    if (align < cluster_sectors)
        align = cluster_sectors;
    uint64_t fat_offset = round_up(kMinFatOffset, align);
    uint64_t clusters = volume_sectors > fat_offset
                            ? (volume_sectors - fat_offset) >> g.sectors_per_cluster_shift()
                            : 0;
    if (clusters > kMaxClusterCount)
        clusters = kMaxClusterCount;
    uint64_t fat_length = round_up((clusters + 2) * 4, sector_size) >> sector_shift;
    uint64_t heap_offset = round_up(fat_offset + fat_length, align);
    if (heap_offset >= volume_sectors || heap_offset > UINT32_MAX)
        return Error(ErrorCode::invalid_argument, "exfat: format: volume too small for its FAT");
    clusters = (volume_sectors - heap_offset) >> g.sectors_per_cluster_shift();
    if (clusters > kMaxClusterCount)
        clusters = kMaxClusterCount;
    g.fat_offset = static_cast<uint32_t>(fat_offset);
    g.fat_length = static_cast<uint32_t>(fat_length);
    g.heap_offset = static_cast<uint32_t>(heap_offset);
    g.cluster_count = static_cast<uint32_t>(clusters);

    uint64_t bitmap_bytes = (clusters + 7) / 8;
    uint64_t bitmap_clusters = (bitmap_bytes + cluster_size - 1) / cluster_size;
    uint64_t upcase_bytes = kRecommendedUpcaseEntries * 2;
    uint64_t upcase_clusters = (upcase_bytes + cluster_size - 1) / cluster_size;
    uint64_t system_clusters = bitmap_clusters + upcase_clusters + 1;
    if (system_clusters >= clusters)
        return Error(ErrorCode::invalid_argument, "exfat: format: volume too small");
    uint32_t bitmap_first = kFirstCluster;
    uint32_t upcase_first = static_cast<uint32_t>(bitmap_first + bitmap_clusters);
    g.root_cluster = static_cast<uint32_t>(upcase_first + upcase_clusters);
    PackedTime now = pack_time(clock.now());
    g.serial = options.serial ? options.serial
                              : now.timestamp ^ (uint32_t{now.increment_10ms} << 24) ^ 0x48414C43;
    g.volume_flags = 0;

    Buffer chunk = TRY(Buffer::allocate(allocator, kChunk > cluster_size ? kChunk : cluster_size));
    // 1. Any old boot sectors go first, so a half-made volume is never mountable.
    memset(chunk.data(), 0, chunk.size());
    TRY(write_repeated(device, 0, 2ull * kBootRegionSectors, chunk.span()));
    TRY(device.flush());

    // 2. The FAT: fixed entries 0 and 1, then one chain per system structure.
    uint64_t entries_per_chunk = chunk.size() / 4;
    uint64_t fat_entries = fat_length * (sector_size / 4);
    for (uint64_t first = 0; first < fat_entries; first += entries_per_chunk) {
        uint64_t n =
            fat_entries - first < entries_per_chunk ? fat_entries - first : entries_per_chunk;
        memset(chunk.data(), 0, chunk.size());
        set_fat(chunk.data(), first, n, 0, kFatMediaEntry);
        set_fat(chunk.data(), first, n, 1, kFatEntryOne);
        auto chain = [&](uint64_t start, uint64_t count) {
            for (uint64_t i = 0; i < count; ++i)
                set_fat(chunk.data(), first, n, start + i,
                        i + 1 == count ? kFatEndOfChain : static_cast<uint32_t>(start + i + 1));
        };
        chain(bitmap_first, bitmap_clusters);
        chain(upcase_first, upcase_clusters);
        chain(g.root_cluster, 1);
        TRY(device.write(fat_offset + first * 4 / sector_size, chunk.span().first(n * 4)));
    }

    // 3. The allocation bitmap: the system clusters are in use.
    for (uint64_t c = 0; c < bitmap_clusters; ++c) {
        memset(chunk.data(), 0, cluster_size);
        for (uint64_t bit = c * cluster_size * 8; bit < (c + 1) * cluster_size * 8; ++bit)
            if (bit < system_clusters)
                chunk.data()[bit / 8 - c * cluster_size] |= static_cast<uint8_t>(1u << (bit % 8));
        TRY(device.write(g.cluster_sector(static_cast<uint32_t>(bitmap_first + c)),
                         chunk.span().first(cluster_size)));
    }

    // 4. The up-case table.
    for (uint64_t c = 0; c < upcase_clusters; ++c) {
        memset(chunk.data(), 0, cluster_size);
        for (uint64_t b = 0; b < cluster_size; ++b) {
            uint64_t at = c * cluster_size + b;
            if (at >= upcase_bytes)
                break;
            uint16_t value = kRecommendedUpcaseTable[at / 2];
            chunk.data()[b] = static_cast<uint8_t>(at % 2 ? value >> 8 : value & 0xFF);
        }
        TRY(device.write(g.cluster_sector(static_cast<uint32_t>(upcase_first + c)),
                         chunk.span().first(cluster_size)));
    }

    // 5. The root directory: label, bitmap and up-case entries.
    memset(chunk.data(), 0, cluster_size);
    auto& label_entry = *chunk.as<VolumeLabelEntry>(0);
    label_entry.entry_type = kEntryVolumeLabel;
    label_entry.character_count = label.length;
    memcpy(label_entry.volume_label, label.chars, label.length * 2u);
    auto& bitmap_entry = *chunk.as<AllocationBitmapEntry>(kEntrySize);
    bitmap_entry.entry_type = kEntryAllocationBitmap;
    bitmap_entry.first_cluster = bitmap_first;
    bitmap_entry.data_length = bitmap_bytes;
    auto& upcase_entry = *chunk.as<UpcaseTableEntry>(2 * kEntrySize);
    upcase_entry.entry_type = kEntryUpcaseTable;
    upcase_entry.first_cluster = upcase_first;
    upcase_entry.data_length = upcase_bytes;
    upcase_entry.table_checksum = kRecommendedUpcaseChecksum;
    TRY(device.write(g.cluster_sector(g.root_cluster), chunk.span().first(cluster_size)));
    TRY(device.flush());

    // 6. The boot regions, main and backup, now that everything they describe is durable.
    size_t region_bytes = size_t{kBootRegionSectors} * sector_size;
    memset(chunk.data(), 0, chunk.size());
    Buffer region = TRY(Buffer::allocate(allocator, region_bytes));
    build_boot_region(g, region.span());
    auto& boot = *region.as<BootSector>();
    boot.percent_in_use = static_cast<uint8_t>(system_clusters * 100 / clusters);
    TRY(device.write(kBackupBootSector, region.span()));
    TRY(device.write(0, region.span()));
    TRY(device.flush());
    return FormatResult{cluster_size, g.cluster_count, g.fat_offset,
                        g.fat_length, g.heap_offset,   g.serial};
}

} // namespace halcyon::exfat
