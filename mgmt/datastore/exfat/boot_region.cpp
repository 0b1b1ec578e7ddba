#include "mgmt/datastore/exfat/boot_region.hpp"

#include "mgmt/datastore/exfat/checksum.hpp"

#include <string.h>

namespace halcyon::exfat {
namespace {

uint32_t read32(const uint8_t* p) {
    return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24;
}

void write32(uint8_t* p, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(value >> (8 * i));
}

Error corrupt(const char* message) {
    return Error(ErrorCode::corrupt, message);
}

} // namespace

ErrorOr<Geometry> parse_boot_region(std::span<const uint8_t> region, uint32_t sector_size,
                                    uint64_t device_sectors) {
    if (region.size() != size_t{layout::kBootRegionSectors} * sector_size)
        return Error(ErrorCode::invalid_argument, "exfat: boot region buffer has the wrong size");
    const auto& boot = *reinterpret_cast<const layout::BootSector*>(region.data());

    if (memcmp(boot.file_system_name, layout::kFileSystemName, 8) != 0)
        return corrupt("exfat: boot sector: not an exFAT volume (FileSystemName is not EXFAT)");
    if (memcmp(boot.jump_boot, layout::kJumpBoot, 3) != 0)
        return corrupt("exfat: boot sector: JumpBoot is not EB 76 90");
    if (boot.boot_signature != layout::kBootSignature)
        return corrupt("exfat: boot sector: BootSignature is not AA55");
    for (uint8_t byte : boot.must_be_zero)
        if (byte != 0)
            return corrupt("exfat: boot sector: MustBeZero bytes are not zero");

    // Checksum first: nothing else in the region may be trusted before it (3.4).
    uint32_t checksum = boot_checksum(region.first(size_t{layout::kChecksumSector} * sector_size));
    const uint8_t* sum_sector = region.data() + size_t{layout::kChecksumSector} * sector_size;
    for (uint32_t i = 0; i < sector_size; i += 4)
        if (read32(sum_sector + i) != checksum)
            return corrupt("exfat: boot region checksum does not match its contents");
    for (uint32_t s = 1; s <= 8; ++s) {
        const uint8_t* sector = region.data() + size_t{s} * sector_size;
        if (read32(sector + sector_size - 4) != layout::kExtendedBootSignature)
            return corrupt("exfat: extended boot sector signature is not AA550000");
    }

    if (boot.file_system_revision >> 8 != 1)
        return Error(ErrorCode::not_supported, "exfat: file system major revision is not 1");
    if (boot.bytes_per_sector_shift < 9 || boot.bytes_per_sector_shift > 12)
        return corrupt("exfat: boot sector: BytesPerSectorShift is outside 9..12");
    if ((1u << boot.bytes_per_sector_shift) != sector_size)
        return Error(ErrorCode::not_supported,
                     "exfat: volume sector size differs from the device's sector size");
    if (boot.sectors_per_cluster_shift > layout::kMaxClusterShift - boot.bytes_per_sector_shift)
        return corrupt("exfat: boot sector: cluster size is larger than 32 MiB");
    if (boot.number_of_fats == 2)
        return Error(ErrorCode::not_supported, "exfat: TexFAT volumes (two FATs) not supported");
    if (boot.number_of_fats != 1)
        return corrupt("exfat: boot sector: NumberOfFats is not 1 or 2");
    if (boot.volume_flags & layout::kVolumeFlagActiveFat)
        return corrupt("exfat: boot sector: ActiveFat selects a second FAT that does not exist");

    Geometry g;
    g.sector_shift = boot.bytes_per_sector_shift;
    g.cluster_shift = boot.bytes_per_sector_shift + boot.sectors_per_cluster_shift;
    g.volume_sectors = boot.volume_length;
    g.fat_offset = boot.fat_offset;
    g.fat_length = boot.fat_length;
    g.heap_offset = boot.cluster_heap_offset;
    g.cluster_count = boot.cluster_count;
    g.root_cluster = boot.first_cluster_of_root_directory;
    g.serial = boot.volume_serial_number;
    g.revision = boot.file_system_revision;
    g.volume_flags = boot.volume_flags;

    if (g.volume_sectors < (1ull << 20 >> g.sector_shift))
        return corrupt("exfat: boot sector: VolumeLength is below 1 MiB");
    if (g.volume_sectors > device_sectors)
        return corrupt("exfat: boot sector: VolumeLength is larger than the device");
    if (g.fat_offset < layout::kMinFatOffset)
        return corrupt("exfat: boot sector: FatOffset overlaps the boot regions");
    if (g.cluster_count == 0 || g.cluster_count > layout::kMaxClusterCount)
        return corrupt("exfat: boot sector: ClusterCount is zero or above 2^32-11");
    uint64_t fat_bytes_needed = (uint64_t(g.cluster_count) + 2) * 4;
    if (uint64_t(g.fat_length) << g.sector_shift < fat_bytes_needed)
        return corrupt("exfat: boot sector: FatLength is too small for ClusterCount");
    if (uint64_t(g.fat_offset) + g.fat_length > g.heap_offset)
        return corrupt("exfat: boot sector: the FAT overlaps the cluster heap");
    uint64_t heap_sectors = uint64_t(g.cluster_count) << g.sectors_per_cluster_shift();
    if (g.heap_offset > g.volume_sectors || heap_sectors > g.volume_sectors - g.heap_offset)
        return corrupt("exfat: boot sector: the cluster heap extends past VolumeLength");
    if (!g.valid_cluster(g.root_cluster))
        return corrupt("exfat: boot sector: FirstClusterOfRootDirectory is not a heap cluster");
    return g;
}

bool boot_regions_match(std::span<const uint8_t> main, std::span<const uint8_t> backup) {
    if (main.size() != backup.size())
        return false;
    for (size_t i = 0; i < main.size(); ++i) {
        if (i == layout::kVolumeFlagsOffset || i == layout::kVolumeFlagsOffset + 1 ||
            i == layout::kPercentInUseOffset)
            continue;
        if (main[i] != backup[i])
            return false;
    }
    return true;
}

void build_boot_region(const Geometry& g, std::span<uint8_t> region) {
    uint32_t sector_size = g.sector_size();
    auto& boot = *reinterpret_cast<layout::BootSector*>(region.data());
    memcpy(boot.jump_boot, layout::kJumpBoot, 3);
    memcpy(boot.file_system_name, layout::kFileSystemName, 8);
    boot.partition_offset = 0;
    boot.volume_length = g.volume_sectors;
    boot.fat_offset = g.fat_offset;
    boot.fat_length = g.fat_length;
    boot.cluster_heap_offset = g.heap_offset;
    boot.cluster_count = g.cluster_count;
    boot.first_cluster_of_root_directory = g.root_cluster;
    boot.volume_serial_number = g.serial;
    boot.file_system_revision = layout::kRevision;
    boot.volume_flags = g.volume_flags;
    boot.bytes_per_sector_shift = static_cast<uint8_t>(g.sector_shift);
    boot.sectors_per_cluster_shift = static_cast<uint8_t>(g.sectors_per_cluster_shift());
    boot.number_of_fats = 1;
    boot.drive_select = 0x80;
    boot.percent_in_use = 0xFF;
    // Not bootable: the boot code halts (hlt; jmp $-1) should a BIOS ever jump into it.
    boot.boot_code[0] = 0xF4;
    boot.boot_code[1] = 0xEB;
    boot.boot_code[2] = 0xFD;
    boot.boot_signature = layout::kBootSignature;
    for (uint32_t s = 1; s <= 8; ++s)
        write32(region.data() + size_t{s} * sector_size + sector_size - 4,
                layout::kExtendedBootSignature);
    uint32_t checksum = boot_checksum(region.first(size_t{layout::kChecksumSector} * sector_size));
    uint8_t* sum_sector = region.data() + size_t{layout::kChecksumSector} * sector_size;
    for (uint32_t i = 0; i < sector_size; i += 4)
        write32(sum_sector + i, checksum);
}

} // namespace halcyon::exfat
