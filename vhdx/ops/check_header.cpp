// Checks of the header section: file identifier, the two headers, the two region tables, and
// the log's state.
#include "vhdx/crc32c.hpp"
#include "vhdx/log_replay.hpp"
#include "vhdx/ops/check_context.hpp"

#include <string.h>

namespace halcyon::vhdx::ops::detail {
namespace {

using format::kMiB;

bool aligned_mib(uint64_t value) {
    return value % kMiB == 0;
}

// Validates one header copy; reports each fault (as `severity`) and returns whether it is usable.
bool check_one_header(CheckContext& c, const format::Header& h, std::span<const uint8_t> bytes,
                      int slot, Severity severity) {
    uint64_t at = format::kHeaderOffset[slot];
    if (h.signature != format::kHeaderSignature) {
        c.report_values(severity,
                        slot == 0 ? "header 1: bad signature (not \"head\")"
                                  : "header 2: bad signature (not \"head\")",
                        at, kNoIndex, h.signature, format::kHeaderSignature);
        return false;
    }
    uint32_t computed = crc32c_with_zero_field(bytes, offsetof(format::Header, checksum));
    if (computed != h.checksum) {
        c.report_values(severity, slot == 0 ? "header 1: bad CRC-32C" : "header 2: bad CRC-32C",
                        at + 4, kNoIndex, h.checksum, computed);
        return false;
    }
    bool ok = true;
    if (h.version != 1) {
        c.report_values(
            severity, slot == 0 ? "header 1: unsupported version" : "header 2: unsupported version",
            at + offsetof(format::Header, version), kNoIndex, h.version, 1);
        ok = false;
    }
    if (h.log_version != 0) {
        c.report_values(severity,
                        slot == 0 ? "header 1: unsupported log version"
                                  : "header 2: unsupported log version",
                        at + offsetof(format::Header, log_version), kNoIndex, h.log_version, 0);
        ok = false;
    }
    if (h.log_length == 0 || !aligned_mib(h.log_length) || !aligned_mib(h.log_offset) ||
        h.log_offset < format::kHeaderSectionSize) {
        c.report(severity,
                 slot == 0 ? "header 1: log offset/length not 1 MiB aligned, empty or inside the "
                             "header section"
                           : "header 2: log offset/length not 1 MiB aligned, empty or inside the "
                             "header section",
                 at + offsetof(format::Header, log_length));
        ok = false;
    } else if (h.log_offset + h.log_length > c.result.file_size) {
        c.report_values(severity,
                        slot == 0 ? "header 1: log extends past the end of the file"
                                  : "header 2: log extends past the end of the file",
                        at + offsetof(format::Header, log_offset), kNoIndex,
                        h.log_offset + h.log_length, c.result.file_size);
        ok = false;
    }
    return ok;
}

struct RegionTable {
    bool valid = false;
    uint64_t bat_offset = 0, metadata_offset = 0;
    uint32_t bat_length = 0, metadata_length = 0;
};

bool overlaps(uint64_t a, uint64_t a_length, uint64_t b, uint64_t b_length) {
    return a < b + b_length && b < a + a_length;
}

RegionTable check_one_region_table(CheckContext& c, std::span<const uint8_t> bytes, int slot,
                                   Severity severity) {
    RegionTable table;
    uint64_t at = format::kRegionTableOffset[slot];
    const char* const names[][8] = {
        {"region table 1: bad signature (not \"regi\")", "region table 1: bad CRC-32C",
         "region table 1: too many entries", "region table 1: unknown required region",
         "region table 1: BAT or metadata region listed twice",
         "region table 1: region not 1 MiB aligned, empty, or in the header section",
         "region table 1: region extends past the end of the file",
         "region table 1: region overlaps the log or another region"},
        {"region table 2: bad signature (not \"regi\")", "region table 2: bad CRC-32C",
         "region table 2: too many entries", "region table 2: unknown required region",
         "region table 2: BAT or metadata region listed twice",
         "region table 2: region not 1 MiB aligned, empty, or in the header section",
         "region table 2: region extends past the end of the file",
         "region table 2: region overlaps the log or another region"}};
    const char* const* name = names[slot];
    auto* header = reinterpret_cast<const format::RegionTableHeader*>(bytes.data());
    if (header->signature != format::kRegionSignature) {
        c.report_values(severity, name[0], at, kNoIndex, header->signature,
                        format::kRegionSignature);
        return table;
    }
    uint32_t computed =
        crc32c_with_zero_field(bytes, offsetof(format::RegionTableHeader, checksum));
    if (computed != header->checksum) {
        c.report_values(severity, name[1], at + 4, kNoIndex, header->checksum, computed);
        return table;
    }
    if (header->entry_count > format::kMaxRegionEntries) {
        c.report_values(severity, name[2], at + 8, kNoIndex, header->entry_count,
                        format::kMaxRegionEntries);
        return table;
    }
    auto* entries = reinterpret_cast<const format::RegionTableEntry*>(bytes.data() + 16);
    bool ok = true, have_bat = false, have_metadata = false;
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        const format::RegionTableEntry& e = entries[i];
        uint64_t entry_at = at + 16 + i * sizeof(format::RegionTableEntry);
        bool is_bat = e.guid == format::kBatRegion;
        bool is_metadata = e.guid == format::kMetadataRegion;
        if (!is_bat && !is_metadata) {
            if (e.required & 1) {
                c.report(Severity::damaged, name[3], entry_at, i);
                ok = false;
            }
            continue;
        }
        if ((is_bat && have_bat) || (is_metadata && have_metadata)) {
            c.report(severity, name[4], entry_at, i);
            ok = false;
            continue;
        }
        if (e.length == 0 || !aligned_mib(e.file_offset) || !aligned_mib(e.length) ||
            e.file_offset < format::kHeaderSectionSize) {
            c.report(severity, name[5], entry_at, i);
            ok = false;
            continue;
        }
        if (e.file_offset + e.length > c.result.file_size) {
            c.report_values(severity, name[6], entry_at, i, e.file_offset + e.length,
                            c.result.file_size);
            ok = false;
            continue;
        }
        if (overlaps(e.file_offset, e.length, c.header.log_offset, c.header.log_length)) {
            c.report(severity, name[7], entry_at, i);
            ok = false;
            continue;
        }
        if (is_bat) {
            have_bat = true;
            table.bat_offset = e.file_offset;
            table.bat_length = e.length;
        } else {
            have_metadata = true;
            table.metadata_offset = e.file_offset;
            table.metadata_length = e.length;
        }
    }
    if (ok && have_bat && have_metadata &&
        overlaps(table.bat_offset, table.bat_length, table.metadata_offset,
                 table.metadata_length)) {
        c.report(severity, name[7], at);
        ok = false;
    }
    if (ok && (!have_bat || !have_metadata)) {
        c.report(severity,
                 slot == 0 ? "region table 1: BAT or metadata region missing"
                           : "region table 2: BAT or metadata region missing",
                 at);
        ok = false;
    }
    table.valid = ok;
    return table;
}

} // namespace

ErrorOr<bool> check_header_section(CheckContext& c) {
    if (c.result.file_size < format::kHeaderSectionSize + format::kMiB) {
        c.report_values(Severity::damaged, "file: too small to be a VHDX (header section + log)", 0,
                        kNoIndex, c.result.file_size, format::kHeaderSectionSize + format::kMiB);
        return false;
    }
    uint64_t signature = 0;
    TRY(c.io.read(0, {reinterpret_cast<uint8_t*>(&signature), sizeof(signature)}));
    if (signature != format::kFileSignature) {
        c.report_values(Severity::damaged, "file identifier: bad signature (not \"vhdxfile\")", 0,
                        kNoIndex, signature, format::kFileSignature);
        return false;
    }
    if (c.result.file_size % format::kMiB != 0)
        c.report_values(Severity::note, "file: size is not a multiple of 1 MiB", kNoOffset,
                        kNoIndex, c.result.file_size,
                        (c.result.file_size + format::kMiB - 1) / format::kMiB * format::kMiB);

    Buffer headers = TRY(Buffer::allocate(c.allocator, 2 * format::kHeaderSize));
    bool valid[2];
    const format::Header* h[2];
    for (int slot = 0; slot < 2; ++slot) {
        std::span<uint8_t> bytes =
            headers.span().subspan(slot * format::kHeaderSize, format::kHeaderSize);
        TRY(c.io.read(format::kHeaderOffset[slot], bytes));
        h[slot] = reinterpret_cast<const format::Header*>(bytes.data());
        // Severity decided below, once we know whether the other copy is good: check quietly
        // first with a throwaway sink.
        valid[slot] = false;
    }
    // First pass without reporting to learn which copies are usable.
    class Silent final : public CheckSink {
    public:
        void problem(const Problem&) override {}
    } silent;
    CheckContext quiet{c.io, c.allocator, silent};
    quiet.result.file_size = c.result.file_size;
    for (int slot = 0; slot < 2; ++slot)
        valid[slot] = check_one_header(
            quiet, *h[slot],
            headers.span().subspan(slot * format::kHeaderSize, format::kHeaderSize), slot,
            Severity::damaged);
    Severity severity = (valid[0] || valid[1]) ? Severity::repairable : Severity::damaged;
    for (int slot = 0; slot < 2; ++slot) {
        if (!valid[slot]) {
            check_one_header(
                c, *h[slot],
                headers.span().subspan(slot * format::kHeaderSize, format::kHeaderSize), slot,
                severity);
            c.result.header_invalid[slot] = true;
        }
    }
    if (!valid[0] && !valid[1])
        return false;
    int current = valid[0] && valid[1] ? (h[1]->sequence_number > h[0]->sequence_number ? 1 : 0)
                                       : (valid[0] ? 0 : 1);
    if (valid[0] && valid[1] && h[0]->sequence_number == h[1]->sequence_number &&
        memcmp(h[0], h[1], format::kHeaderSize) != 0)
        c.report_values(Severity::note,
                        "headers: both copies have the same sequence number but differ (header 1 "
                        "is used)",
                        format::kHeaderOffset[0], kNoIndex, h[0]->sequence_number,
                        h[1]->sequence_number);
    c.result.current_header = current;
    c.header = *h[current];
    return true;
}

ErrorOr<void> check_log(CheckContext& c) {
    if (c.header.log_guid.is_zero())
        return {};
    c.result.log_dirty = true;
    auto replay = replay_log(c.io, c.allocator, c.header.log_guid, c.header.log_offset,
                             c.header.log_length, false);
    if (replay.is_error()) {
        if (replay.error().code() == ErrorCode::io)
            return replay.release_error();
        // Replay would refuse: the log's entries cannot be trusted to bring the file up to date.
        c.report(Severity::damaged, replay.error().message(), c.header.log_offset);
        return {};
    }
    ReplayResult result = replay.release_value();
    if (result.found) {
        c.result.log_entries = result.entries;
        c.report_values(Severity::repairable,
                        "log: not empty (the file was not closed cleanly); repair replays it "
                        "(found = entries, expected = head sequence number)",
                        c.header.log_offset, kNoIndex, result.entries, result.head_sequence);
    } else {
        c.report(Severity::repairable,
                 "log: the header names a log but no valid entry sequence exists; repair "
                 "clears the log GUID",
                 c.header.log_offset);
    }
    return {};
}

ErrorOr<bool> check_region_tables(CheckContext& c) {
    Buffer tables = TRY(Buffer::allocate(c.allocator, 2 * format::kRegionTableSize));
    class Silent final : public CheckSink {
    public:
        void problem(const Problem&) override {}
    } silent;
    CheckContext quiet{c.io, c.allocator, silent};
    quiet.result.file_size = c.result.file_size;
    quiet.header = c.header;
    RegionTable parsed[2];
    for (int slot = 0; slot < 2; ++slot) {
        std::span<uint8_t> bytes =
            tables.span().subspan(slot * format::kRegionTableSize, format::kRegionTableSize);
        TRY(c.io.read(format::kRegionTableOffset[slot], bytes));
        parsed[slot] = check_one_region_table(quiet, bytes, slot, Severity::damaged);
    }
    bool any = parsed[0].valid || parsed[1].valid;
    Severity severity = any ? Severity::repairable : Severity::damaged;
    for (int slot = 0; slot < 2; ++slot) {
        if (!parsed[slot].valid) {
            (void)check_one_region_table(
                c, tables.span().subspan(slot * format::kRegionTableSize, format::kRegionTableSize),
                slot, severity);
            c.result.region_table_invalid[slot] = true;
        }
    }
    if (!any)
        return false;
    int good = parsed[0].valid ? 0 : 1;
    if (parsed[0].valid && parsed[1].valid &&
        memcmp(tables.data(), tables.data() + format::kRegionTableSize, format::kRegionTableSize) !=
            0) {
        c.report(Severity::repairable,
                 "region tables: the two copies differ (they must be identical); repair copies "
                 "table 1 over table 2",
                 format::kRegionTableOffset[1]);
        c.result.region_table_invalid[1] = true;
    }
    c.result.good_region_table = good;
    c.bat_offset = parsed[good].bat_offset;
    c.bat_length = parsed[good].bat_length;
    c.metadata_offset = parsed[good].metadata_offset;
    c.metadata_length = parsed[good].metadata_length;
    return true;
}

} // namespace halcyon::vhdx::ops::detail
