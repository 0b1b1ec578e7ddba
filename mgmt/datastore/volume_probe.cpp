#include "mgmt/datastore/volume_probe.hpp"

#include "mgmt/datastore/exfat/boot_region.hpp"
#include "mgmt/datastore/exfat/name.hpp"

#include <string.h>

namespace halcyon::datastore {
namespace {

constexpr uint32_t kMaxSectorSize = 4096;
constexpr size_t kFileSystemNameOffset = 3;

char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The label entry, looked for in the root directory's first cluster (where every formatter puts
// it); stops at the end-of-directory marker.
ErrorOr<void> read_label(exfat::SectorDevice& device, const exfat::Geometry& geometry,
                         uint8_t* sector, VolumeProbe& probe) {
    namespace layout = exfat::layout;
    const uint32_t sector_size = geometry.sector_size();
    const uint64_t first = geometry.cluster_sector(geometry.root_cluster);
    const uint64_t sectors = uint64_t(1) << geometry.sectors_per_cluster_shift();
    for (uint64_t s = 0; s < sectors; ++s) {
        TRY(device.read(first + s, std::span(sector, sector_size)));
        for (uint32_t offset = 0; offset < sector_size; offset += layout::kEntrySize) {
            const uint8_t type = sector[offset];
            if (type == layout::kEntryEndOfDirectory)
                return {};
            if (type != layout::kEntryVolumeLabel)
                continue;
            layout::VolumeLabelEntry entry;
            memcpy(&entry, sector + offset, sizeof(entry));
            if (entry.character_count > layout::kMaxLabelLength) {
                probe.problem = "exfat: the volume label entry is longer than 11 characters";
                return {};
            }
            char utf8[exfat::kMaxNameUtf8];
            const size_t length = exfat::name_to_utf8(
                std::span<const uint16_t>(entry.volume_label, entry.character_count),
                std::span(utf8));
            const size_t kept = length < kMaxLabelBytes - 1 ? length : kMaxLabelBytes - 1;
            memcpy(probe.label, utf8, kept);
            probe.label[kept] = '\0';
            return {};
        }
    }
    return {};
}

} // namespace

bool label_equals(const char* a, const char* b) {
    for (; *a != '\0' && *b != '\0'; ++a, ++b)
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
    return *a == *b;
}

ErrorOr<VolumeProbe> probe_volume(exfat::SectorDevice& device, exfat::Allocator& allocator) {
    VolumeProbe probe;
    const uint32_t sector_size = device.sector_size();
    if (sector_size < 512 || sector_size > kMaxSectorSize ||
        device.sector_count() < exfat::layout::kMinFatOffset)
        return probe;
    uint8_t sector[kMaxSectorSize];
    TRY(device.read(0, std::span(sector, sector_size)));
    if (memcmp(sector + kFileSystemNameOffset, exfat::layout::kFileSystemName,
               sizeof(exfat::layout::kFileSystemName)) != 0)
        return probe;
    probe.exfat = true;

    // The main boot region, validated as mount validates it (signatures, checksum, geometry
    // against the device); the backup and everything else is left to the mount.
    const size_t region_bytes = size_t(exfat::layout::kBootRegionSectors) * sector_size;
    exfat::Buffer region = TRY(exfat::Buffer::allocate(allocator, region_bytes));
    TRY(device.read(0, region.span()));
    auto geometry = exfat::parse_boot_region(region.span(), sector_size, device.sector_count());
    if (geometry.is_error()) {
        probe.problem = geometry.error().message();
        return probe;
    }
    probe.volume_bytes = geometry.value().volume_sectors * sector_size;
    TRY(read_label(device, geometry.value(), sector, probe));
    probe.valid = probe.problem == nullptr;
    return probe;
}

} // namespace halcyon::datastore
