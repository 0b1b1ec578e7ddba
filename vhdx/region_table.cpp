#include "vhdx/region_table.hpp"

#include "vhdx/buffer.hpp"
#include "vhdx/crc32c.hpp"
#include "vhdx/format.hpp"

namespace halcyon::vhdx {
namespace {

using format::RegionTableEntry;
using format::RegionTableHeader;

ErrorOr<Regions> parse_table(const Buffer& table, uint64_t file_size) {
    auto* header = table.as<RegionTableHeader>();
    if (header->signature != format::kRegionSignature)
        return Error(ErrorCode::corrupt, "bad signature (not \"regi\")");
    if (header->checksum !=
        crc32c_with_zero_field(table.span(), offsetof(RegionTableHeader, checksum)))
        return Error(ErrorCode::corrupt, "bad CRC-32C");
    if (header->entry_count > format::kMaxRegionEntries)
        return Error(ErrorCode::corrupt, "more than 2047 entries");
    Regions regions{};
    bool have_bat = false, have_metadata = false;
    auto* entries = table.as<RegionTableEntry>(sizeof(RegionTableHeader));
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        const RegionTableEntry& entry = entries[i];
        bool known = entry.guid == format::kBatRegion || entry.guid == format::kMetadataRegion;
        if (!known) {
            if (entry.required & 1)
                return Error(ErrorCode::not_supported, "unknown region marked required");
            continue;
        }
        if (entry.file_offset % format::kMiB != 0 || entry.length % format::kMiB != 0 ||
            entry.length == 0 || entry.file_offset < format::kHeaderSectionSize)
            return Error(ErrorCode::corrupt, "region offset or length not a multiple of 1 MiB");
        if (entry.file_offset + entry.length > file_size)
            return Error(ErrorCode::corrupt, "region extends past the end of the file");
        if (entry.guid == format::kBatRegion) {
            if (have_bat)
                return Error(ErrorCode::corrupt, "two BAT regions");
            have_bat = true;
            regions.bat_offset = entry.file_offset;
            regions.bat_length = entry.length;
        } else {
            if (have_metadata)
                return Error(ErrorCode::corrupt, "two metadata regions");
            have_metadata = true;
            regions.metadata_offset = entry.file_offset;
            regions.metadata_length = entry.length;
        }
    }
    if (!have_bat)
        return Error(ErrorCode::corrupt, "no BAT region");
    if (!have_metadata)
        return Error(ErrorCode::corrupt, "no metadata region");
    uint64_t bat_end = regions.bat_offset + regions.bat_length;
    uint64_t metadata_end = regions.metadata_offset + regions.metadata_length;
    if (regions.bat_offset < metadata_end && regions.metadata_offset < bat_end)
        return Error(ErrorCode::corrupt, "BAT and metadata regions overlap");
    return regions;
}

} // namespace

ErrorOr<Regions> read_regions(BlockIo& io, Allocator& allocator) {
    Buffer table = TRY(Buffer::allocate(allocator, format::kRegionTableSize));
    uint64_t file_size = TRY(io.size());
    Error first_error(ErrorCode::corrupt, "");
    for (int copy = 0; copy < 2; ++copy) {
        if (file_size < format::kRegionTableOffset[copy] + format::kRegionTableSize) {
            if (copy == 0)
                first_error = Error(ErrorCode::corrupt, "truncated");
            continue;
        }
        TRY(io.read(format::kRegionTableOffset[copy], table.span()));
        auto parsed = parse_table(table, file_size);
        if (!parsed.is_error())
            return parsed.release_value();
        if (copy == 0)
            first_error = parsed.error();
    }
    // Both copies are bad: report the first copy's problem with its name.
    const char* message = first_error.message();
    struct Known {
        const char* plain;
        const char* named;
    };
    static constexpr Known kNamed[] = {
        {"bad signature (not \"regi\")", "region table 1: bad signature (not \"regi\")"},
        {"bad CRC-32C", "region table 1: bad CRC-32C"},
        {"more than 2047 entries", "region table 1: more than 2047 entries"},
        {"unknown region marked required", "region table 1: unknown region marked required"},
        {"region offset or length not a multiple of 1 MiB",
         "region table 1: region offset or length not a multiple of 1 MiB"},
        {"region extends past the end of the file",
         "region table 1: region extends past the end of the file"},
        {"two BAT regions", "region table 1: two BAT regions"},
        {"two metadata regions", "region table 1: two metadata regions"},
        {"no BAT region", "region table 1: no BAT region"},
        {"no metadata region", "region table 1: no metadata region"},
        {"BAT and metadata regions overlap", "region table 1: BAT and metadata regions overlap"},
        {"truncated", "region table 1: file truncated"},
    };
    for (const Known& known : kNamed) {
        if (__builtin_strcmp(known.plain, message) == 0)
            return Error(first_error.code(), known.named);
    }
    return Error(first_error.code(), "region table: both copies are invalid");
}

ErrorOr<void> write_regions(BlockIo& io, Allocator& allocator, const Regions& regions) {
    Buffer table = TRY(Buffer::allocate(allocator, format::kRegionTableSize));
    auto* header = table.as<RegionTableHeader>();
    header->signature = format::kRegionSignature;
    header->entry_count = 2;
    auto* entries = table.as<RegionTableEntry>(sizeof(RegionTableHeader));
    entries[0] = {format::kBatRegion, regions.bat_offset, regions.bat_length, 1};
    entries[1] = {format::kMetadataRegion, regions.metadata_offset, regions.metadata_length, 1};
    header->checksum = crc32c_with_zero_field(table.span(), offsetof(RegionTableHeader, checksum));
    for (int copy = 0; copy < 2; ++copy)
        TRY(io.write(format::kRegionTableOffset[copy], table.span()));
    return {};
}

} // namespace halcyon::vhdx
