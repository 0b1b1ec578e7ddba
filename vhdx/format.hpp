// On-disk structures of MS-VHDX, written from the specification. All fields are little endian;
// Halcyon only runs on x86-64, so the structures are read and written in place.
#pragma once

#include "vhdx/guid.hpp"

#include <bit>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vhdx::format {

static_assert(std::endian::native == std::endian::little, "VHDX structures are little endian");

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * 1024;

// --- Header section (first 1 MiB) ---
inline constexpr uint64_t kFileIdentifierOffset = 0;
inline constexpr uint64_t kHeaderOffset[2] = {64 * kKiB, 128 * kKiB};
inline constexpr uint64_t kRegionTableOffset[2] = {192 * kKiB, 256 * kKiB};
inline constexpr uint64_t kHeaderSectionSize = 1 * kMiB;
inline constexpr uint32_t kHeaderSize = 4 * kKiB;
inline constexpr uint32_t kRegionTableSize = 64 * kKiB;

inline constexpr uint64_t kFileSignature = 0x656C696678646876ull;     // "vhdxfile"
inline constexpr uint32_t kHeaderSignature = 0x64616568;              // "head"
inline constexpr uint32_t kRegionSignature = 0x69676572;              // "regi"
inline constexpr uint64_t kMetadataSignature = 0x617461646174656Dull; // "metadata"
inline constexpr uint32_t kLogEntrySignature = 0x65676F6C;            // "loge"
inline constexpr uint32_t kZeroDescriptorSignature = 0x6F72657A;      // "zero"
inline constexpr uint32_t kDataDescriptorSignature = 0x63736564;      // "desc"
inline constexpr uint32_t kDataSectorSignature = 0x61746164;          // "data"

struct FileIdentifier {
    uint64_t signature;
    uint16_t creator[256]; // UTF-16LE, informational
};
static_assert(sizeof(FileIdentifier) == 520);

struct Header {
    uint32_t signature;
    uint32_t checksum; // CRC-32C over the 4 KiB header with this field zero
    uint64_t sequence_number;
    Guid file_write_guid;
    Guid data_write_guid;
    Guid log_guid;
    uint16_t log_version; // 0
    uint16_t version;     // 1
    uint32_t log_length;
    uint64_t log_offset;
    uint8_t reserved[4016];
};
static_assert(sizeof(Header) == kHeaderSize);
static_assert(offsetof(Header, log_guid) == 48 && offsetof(Header, log_offset) == 72);

struct RegionTableHeader {
    uint32_t signature;
    uint32_t checksum; // CRC-32C over the 64 KiB table with this field zero
    uint32_t entry_count;
    uint32_t reserved;
};
static_assert(sizeof(RegionTableHeader) == 16);

struct RegionTableEntry {
    Guid guid;
    uint64_t file_offset;
    uint32_t length;
    uint32_t required; // bit 0
};
static_assert(sizeof(RegionTableEntry) == 32);
inline constexpr uint32_t kMaxRegionEntries = 2047;

inline constexpr Guid kBatRegion{
    0x2dc27766, 0xf623, 0x4200, {0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08}};
inline constexpr Guid kMetadataRegion{
    0x8b7ca206, 0x4790, 0x4b9a, {0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e}};

// --- Metadata region ---
inline constexpr uint32_t kMetadataTableSize = 64 * kKiB;
inline constexpr uint32_t kMaxMetadataEntries = 2047;

struct MetadataTableHeader {
    uint64_t signature;
    uint16_t reserved;
    uint16_t entry_count;
    uint32_t reserved2[5];
};
static_assert(sizeof(MetadataTableHeader) == 32);

struct MetadataTableEntry {
    Guid item_id;
    uint32_t offset; // from the start of the metadata region; >= 64 KiB unless length is 0
    uint32_t length;
    uint32_t flags;
    uint32_t reserved;
};
static_assert(sizeof(MetadataTableEntry) == 32);
inline constexpr uint32_t kMetadataIsUser = 1u << 0;
inline constexpr uint32_t kMetadataIsVirtualDisk = 1u << 1;
inline constexpr uint32_t kMetadataIsRequired = 1u << 2;

inline constexpr Guid kFileParametersItem{
    0xcaa16737, 0xfa36, 0x4d43, {0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b}};
inline constexpr Guid kVirtualDiskSizeItem{
    0x2fa54224, 0xcd1b, 0x4876, {0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8}};
inline constexpr Guid kPage83Item{
    0xbeca12ab, 0xb2e6, 0x4523, {0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46}};
inline constexpr Guid kLogicalSectorSizeItem{
    0x8141bf1d, 0xa96f, 0x4709, {0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f}};
inline constexpr Guid kPhysicalSectorSizeItem{
    0xcda348c7, 0x445d, 0x4471, {0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56}};
inline constexpr Guid kParentLocatorItem{
    0xa8d35f2d, 0xb30b, 0x454d, {0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c}};
inline constexpr Guid kVhdxParentLocatorType{
    0xb04aefb7, 0xd19e, 0x4a81, {0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13}};

struct FileParameters {
    uint32_t block_size;
    uint32_t flags;
};
static_assert(sizeof(FileParameters) == 8);
inline constexpr uint32_t kLeaveBlocksAllocated = 1u << 0;
inline constexpr uint32_t kHasParent = 1u << 1;

struct ParentLocatorHeader {
    Guid locator_type;
    uint16_t reserved;
    uint16_t key_value_count;
};
static_assert(sizeof(ParentLocatorHeader) == 20);

struct ParentLocatorKeyValue {
    uint32_t key_offset;   // from the start of the parent locator item
    uint32_t value_offset; // from the start of the parent locator item
    uint16_t key_length;   // bytes of UTF-16LE
    uint16_t value_length;
};
static_assert(sizeof(ParentLocatorKeyValue) == 12);

// --- BAT ---
inline constexpr uint64_t kBatStateMask = 7;
inline constexpr uint64_t kBatOffsetShift = 20; // FileOffsetMB occupies bits 20..63
inline constexpr uint32_t kSectorBitmapBlockSize = 1 * kMiB;
inline constexpr uint64_t kSectorsPerBitmapBlock = 1ull << 23; // 8 bits x 1 MiB
inline constexpr uint8_t kSectorBitmapNotPresent = 0;
inline constexpr uint8_t kSectorBitmapPresent = 6;

// --- Log ---
inline constexpr uint32_t kLogSectorSize = 4 * kKiB;

struct LogEntryHeader {
    uint32_t signature;
    uint32_t checksum; // CRC-32C over entry_length bytes with this field zero
    uint32_t entry_length;
    uint32_t tail; // log offset of the oldest entry still needed
    uint64_t sequence_number;
    uint32_t descriptor_count;
    uint32_t reserved;
    Guid log_guid;
    uint64_t flushed_file_offset;
    uint64_t last_file_offset;
};
static_assert(sizeof(LogEntryHeader) == 64);

struct LogDescriptor {
    uint32_t signature;      // "zero" or "desc"
    uint32_t trailing_bytes; // desc: last 4 bytes of the sector; zero: reserved
    uint64_t leading_bytes;  // desc: first 8 bytes of the sector; zero: ZeroLength
    uint64_t file_offset;
    uint64_t sequence_number;
};
static_assert(sizeof(LogDescriptor) == 32);

struct LogDataSector {
    uint32_t signature;
    uint32_t sequence_high;
    uint8_t data[4084];
    uint32_t sequence_low;
};
static_assert(sizeof(LogDataSector) == kLogSectorSize);

// Descriptors fitting in the first sector next to the entry header, and in each further one.
inline constexpr uint32_t kDescriptorsPerSector = kLogSectorSize / sizeof(LogDescriptor);

} // namespace halcyon::vhdx::format
