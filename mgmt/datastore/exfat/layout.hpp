// On-disk structures of exFAT, written from Microsoft's exFAT file system specification
// (revision 1.00). All fields are little endian; Halcyon only runs on x86-64, so the structures
// are read and written in place (every one is naturally packed: static_asserts pin the offsets).
#pragma once

#include <bit>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::exfat::layout {

static_assert(std::endian::native == std::endian::little, "exFAT structures are little endian");

// --- Boot region (sections 2 and 3) ---
inline constexpr uint32_t kBootRegionSectors = 12; // boot, 8 extended, OEM, reserved, checksum
inline constexpr uint32_t kBackupBootSector = 12;  // the backup region follows the main one
inline constexpr uint32_t kChecksumSector = 11;    // within a region
inline constexpr uint32_t kMinFatOffset = 24;      // both boot regions come first
inline constexpr uint16_t kBootSignature = 0xAA55;
inline constexpr uint32_t kExtendedBootSignature = 0xAA550000;
inline constexpr uint8_t kJumpBoot[3] = {0xEB, 0x76, 0x90};
inline constexpr char kFileSystemName[8] = {'E', 'X', 'F', 'A', 'T', ' ', ' ', ' '};
inline constexpr uint16_t kRevision = 0x0100;
inline constexpr uint32_t kMaxClusterCount = 0xFFFFFFF5; // 2^32 - 11
inline constexpr uint32_t kMaxClusterShift = 25;         // 32 MiB clusters

// VolumeFlags (3.1.13): only the main boot sector's copy is current.
inline constexpr uint16_t kVolumeFlagActiveFat = 1 << 0;
inline constexpr uint16_t kVolumeFlagDirty = 1 << 1;
inline constexpr uint16_t kVolumeFlagMediaFailure = 1 << 2;
inline constexpr uint16_t kVolumeFlagClearToZero = 1 << 3;

struct BootSector {
    uint8_t jump_boot[3];
    char file_system_name[8];
    uint8_t must_be_zero[53];
    uint64_t partition_offset;
    uint64_t volume_length; // sectors
    uint32_t fat_offset;    // sectors from the volume start
    uint32_t fat_length;    // sectors per FAT
    uint32_t cluster_heap_offset;
    uint32_t cluster_count;
    uint32_t first_cluster_of_root_directory;
    uint32_t volume_serial_number;
    uint16_t file_system_revision;
    uint16_t volume_flags; // excluded from the boot checksum
    uint8_t bytes_per_sector_shift;
    uint8_t sectors_per_cluster_shift;
    uint8_t number_of_fats;
    uint8_t drive_select;
    uint8_t percent_in_use; // excluded from the boot checksum; 0xFF = unknown
    uint8_t reserved[7];
    uint8_t boot_code[390];
    uint16_t boot_signature;
};
static_assert(sizeof(BootSector) == 512);
static_assert(offsetof(BootSector, partition_offset) == 64);
static_assert(offsetof(BootSector, volume_flags) == 106);
static_assert(offsetof(BootSector, percent_in_use) == 112);
static_assert(offsetof(BootSector, boot_code) == 120);

// Byte offsets the boot checksum skips (VolumeFlags and PercentInUse of the boot sector).
inline constexpr size_t kVolumeFlagsOffset = offsetof(BootSector, volume_flags);
inline constexpr size_t kPercentInUseOffset = offsetof(BootSector, percent_in_use);

// --- FAT (section 4) ---
inline constexpr uint32_t kFirstCluster = 2;
inline constexpr uint32_t kFatMediaEntry = 0xFFFFFFF8; // FatEntry[0]: media type F8
inline constexpr uint32_t kFatEntryOne = 0xFFFFFFFF;   // FatEntry[1]
inline constexpr uint32_t kFatBadCluster = 0xFFFFFFF7;
inline constexpr uint32_t kFatEndOfChain = 0xFFFFFFFF;

// --- Directory entries (sections 6 and 7) ---
inline constexpr uint32_t kEntrySize = 32;
inline constexpr uint8_t kEntryInUse = 0x80;
inline constexpr uint8_t kEntryCategorySecondary = 0x40;
inline constexpr uint8_t kEntryBenign = 0x20;
inline constexpr uint8_t kEntryEndOfDirectory = 0x00;

inline constexpr uint8_t kEntryAllocationBitmap = 0x81;
inline constexpr uint8_t kEntryUpcaseTable = 0x82;
inline constexpr uint8_t kEntryVolumeLabel = 0x83;
inline constexpr uint8_t kEntryFile = 0x85;
inline constexpr uint8_t kEntryVolumeGuid = 0xA0;
inline constexpr uint8_t kEntryTexFatPadding = 0xA1;
inline constexpr uint8_t kEntryStreamExtension = 0xC0;
inline constexpr uint8_t kEntryFileName = 0xC1;
inline constexpr uint8_t kEntryVendorExtension = 0xE0;
inline constexpr uint8_t kEntryVendorAllocation = 0xE1;
// What we write into slots we skip or free: a deleted File entry (InUse clear), which every
// reader treats as one unused slot.
inline constexpr uint8_t kEntryUnused = kEntryFile & ~kEntryInUse;

// GeneralSecondaryFlags (6.4.2).
inline constexpr uint8_t kFlagAllocationPossible = 1 << 0;
inline constexpr uint8_t kFlagNoFatChain = 1 << 1;

// FileAttributes (7.4.4).
inline constexpr uint16_t kAttributeReadOnly = 0x01;
inline constexpr uint16_t kAttributeHidden = 0x02;
inline constexpr uint16_t kAttributeSystem = 0x04;
inline constexpr uint16_t kAttributeDirectory = 0x10;
inline constexpr uint16_t kAttributeArchive = 0x20;

inline constexpr uint32_t kNameCharsPerEntry = 15;
inline constexpr uint32_t kMaxNameLength = 255;
inline constexpr uint32_t kMaxNameEntries = 17;
inline constexpr uint32_t kMaxLabelLength = 11;
inline constexpr uint64_t kMaxDirectorySize = 256ull * 1024 * 1024;

struct GenericEntry {
    uint8_t entry_type;
    uint8_t custom[19];
    uint32_t first_cluster;
    uint64_t data_length;
};
static_assert(sizeof(GenericEntry) == kEntrySize);

struct AllocationBitmapEntry {
    uint8_t entry_type; // 0x81
    uint8_t bitmap_flags;
    uint8_t reserved[18];
    uint32_t first_cluster;
    uint64_t data_length;
};
static_assert(sizeof(AllocationBitmapEntry) == kEntrySize);

struct UpcaseTableEntry {
    uint8_t entry_type; // 0x82
    uint8_t reserved1[3];
    uint32_t table_checksum;
    uint8_t reserved2[12];
    uint32_t first_cluster;
    uint64_t data_length;
};
static_assert(sizeof(UpcaseTableEntry) == kEntrySize);

struct VolumeLabelEntry {
    uint8_t entry_type; // 0x83
    uint8_t character_count;
    uint16_t volume_label[11];
    uint8_t reserved[8];
};
static_assert(sizeof(VolumeLabelEntry) == kEntrySize);

struct FileEntry {
    uint8_t entry_type; // 0x85
    uint8_t secondary_count;
    uint16_t set_checksum;
    uint16_t file_attributes;
    uint16_t reserved1;
    uint32_t create_timestamp;
    uint32_t last_modified_timestamp;
    uint32_t last_accessed_timestamp;
    uint8_t create_10ms_increment;
    uint8_t last_modified_10ms_increment;
    uint8_t create_utc_offset;
    uint8_t last_modified_utc_offset;
    uint8_t last_accessed_utc_offset;
    uint8_t reserved2[7];
};
static_assert(sizeof(FileEntry) == kEntrySize);
static_assert(offsetof(FileEntry, create_10ms_increment) == 20);

struct StreamExtensionEntry {
    uint8_t entry_type; // 0xC0
    uint8_t general_secondary_flags;
    uint8_t reserved1;
    uint8_t name_length;
    uint16_t name_hash;
    uint16_t reserved2;
    uint64_t valid_data_length;
    uint32_t reserved3;
    uint32_t first_cluster;
    uint64_t data_length;
};
static_assert(sizeof(StreamExtensionEntry) == kEntrySize);
static_assert(offsetof(StreamExtensionEntry, valid_data_length) == 8);

struct FileNameEntry {
    uint8_t entry_type; // 0xC1
    uint8_t general_secondary_flags;
    uint16_t file_name[15];
};
static_assert(sizeof(FileNameEntry) == kEntrySize);

// Vendor Allocation (7.9): a benign secondary that owns clusters we must account for.
struct VendorAllocationEntry {
    uint8_t entry_type; // 0xE1
    uint8_t general_secondary_flags;
    uint8_t vendor_guid[16];
    uint16_t vendor_defined;
    uint32_t first_cluster;
    uint64_t data_length;
};
static_assert(sizeof(VendorAllocationEntry) == kEntrySize);

} // namespace halcyon::exfat::layout
