// Checks of the metadata region: the table (entries in bounds, no overlaps, no duplicates, no
// unknown required items) and every system item's value.
#include "vhdx/ops/check_context.hpp"
#include "vhdx/parent_locator.hpp"

#include <string.h>

namespace halcyon::vhdx::ops::detail {
namespace {

struct KnownItem {
    const Guid* id;
    uint32_t length; // exact length the spec gives; 0 = variable
    bool is_virtual_disk;
    const char* missing;
};

const KnownItem kKnownItems[] = {
    {&format::kFileParametersItem, 8, false, "metadata: File Parameters item missing"},
    {&format::kVirtualDiskSizeItem, 8, true, "metadata: Virtual Disk Size item missing"},
    {&format::kPage83Item, 16, true, "metadata: Page 83 Data (virtual disk id) item missing"},
    {&format::kLogicalSectorSizeItem, 4, true, "metadata: Logical Sector Size item missing"},
    {&format::kPhysicalSectorSizeItem, 4, true, "metadata: Physical Sector Size item missing"},
    {&format::kParentLocatorItem, 0, false, nullptr},
};

bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

} // namespace

ErrorOr<bool> check_metadata(CheckContext& c) {
    Buffer table = TRY(Buffer::allocate(c.allocator, format::kMetadataTableSize));
    TRY(c.io.read(c.metadata_offset, table.span()));
    auto* header = table.as<format::MetadataTableHeader>();
    if (header->signature != format::kMetadataSignature) {
        c.report_values(Severity::damaged, "metadata table: bad signature (not \"metadata\")",
                        c.metadata_offset, kNoIndex, header->signature, format::kMetadataSignature);
        return false;
    }
    if (header->entry_count > format::kMaxMetadataEntries) {
        c.report_values(Severity::damaged, "metadata table: too many entries",
                        c.metadata_offset + 10, kNoIndex, header->entry_count,
                        format::kMaxMetadataEntries);
        return false;
    }
    auto* entries = table.as<format::MetadataTableEntry>(sizeof(format::MetadataTableHeader));
    bool ok = true;
    int found[6] = {-1, -1, -1, -1, -1, -1};
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        const format::MetadataTableEntry& e = entries[i];
        uint64_t at = c.metadata_offset + 32 + i * 32ull;
        bool is_user = e.flags & format::kMetadataIsUser;
        if (e.length == 0) {
            if (e.offset != 0)
                c.report_values(Severity::note, "metadata entry: empty item with a non-zero offset",
                                at, i, e.offset, 0);
        } else if (e.offset < format::kMetadataTableSize ||
                   uint64_t(e.offset) + e.length > c.metadata_length) {
            c.report_values(Severity::damaged,
                            "metadata entry: item outside the metadata region (found = end, "
                            "expected = region length)",
                            at, i, uint64_t(e.offset) + e.length, c.metadata_length);
            ok = false;
            continue;
        }
        for (uint32_t j = 0; j < i; ++j) {
            const format::MetadataTableEntry& other = entries[j];
            if (other.item_id == e.item_id &&
                ((other.flags ^ e.flags) & format::kMetadataIsUser) == 0) {
                c.report_values(Severity::damaged,
                                "metadata entry: duplicate item id (found = this "
                                "index, expected = first index)",
                                at, i, i, j);
                ok = false;
            } else if (e.length != 0 && other.length != 0 &&
                       e.offset < other.offset + other.length &&
                       other.offset < e.offset + e.length) {
                c.report_values(Severity::damaged,
                                "metadata entry: item overlaps another item (found = this index, "
                                "expected = other index)",
                                at, i, i, j);
                ok = false;
            }
        }
        bool known = false;
        if (!is_user) {
            for (int k = 0; k < 6; ++k) {
                if (e.item_id == *kKnownItems[k].id) {
                    known = true;
                    found[k] = static_cast<int>(i);
                    if (kKnownItems[k].length != 0 && e.length != kKnownItems[k].length) {
                        c.report_values(Severity::damaged,
                                        "metadata entry: system item has the wrong length", at, i,
                                        e.length, kKnownItems[k].length);
                        ok = false;
                        found[k] = -1;
                    }
                    if (bool(e.flags & format::kMetadataIsVirtualDisk) !=
                        kKnownItems[k].is_virtual_disk)
                        c.report(Severity::note,
                                 "metadata entry: system item has an unexpected IsVirtualDisk flag",
                                 at, i);
                }
            }
        }
        if (!known && !is_user && (e.flags & format::kMetadataIsRequired)) {
            c.report(Severity::damaged,
                     "metadata entry: unknown required system item (this implementation cannot "
                     "use the disk safely)",
                     at, i);
            ok = false;
        }
    }
    for (int k = 0; k < 5; ++k) {
        if (found[k] < 0) {
            c.report(Severity::damaged, kKnownItems[k].missing, c.metadata_offset);
            ok = false;
        }
    }
    if (!ok)
        return false;

    auto item_at = [&](int k) { return c.metadata_offset + entries[found[k]].offset; };
    format::FileParameters parameters{};
    TRY(c.io.read(item_at(0), {reinterpret_cast<uint8_t*>(&parameters), sizeof(parameters)}));
    uint64_t virtual_size = 0;
    TRY(c.io.read(item_at(1), {reinterpret_cast<uint8_t*>(&virtual_size), 8}));
    uint32_t logical = 0, physical = 0;
    TRY(c.io.read(item_at(3), {reinterpret_cast<uint8_t*>(&logical), 4}));
    TRY(c.io.read(item_at(4), {reinterpret_cast<uint8_t*>(&physical), 4}));
    if (!is_power_of_two(parameters.block_size) || parameters.block_size < format::kMiB ||
        parameters.block_size > 256 * format::kMiB) {
        c.report_values(Severity::damaged,
                        "file parameters: block size not a power of two in 1..256 MiB", item_at(0),
                        kNoIndex, parameters.block_size, 32 * format::kMiB);
        ok = false;
    }
    if (parameters.flags & ~3u)
        c.report_values(Severity::note, "file parameters: reserved flag bits set", item_at(0) + 4,
                        kNoIndex, parameters.flags, parameters.flags & 3u);
    if (logical != 512 && logical != 4096) {
        c.report_values(Severity::damaged, "logical sector size: neither 512 nor 4096", item_at(3),
                        kNoIndex, logical, 512);
        ok = false;
    }
    if (physical != 512 && physical != 4096) {
        c.report_values(Severity::damaged, "physical sector size: neither 512 nor 4096", item_at(4),
                        kNoIndex, physical, 4096);
        ok = false;
    }
    if (virtual_size == 0 || virtual_size > (64ull << 40) || (ok && virtual_size % logical != 0)) {
        c.report_values(Severity::damaged,
                        "virtual disk size: zero, above 64 TiB or not a multiple of the logical "
                        "sector size",
                        item_at(1), kNoIndex, virtual_size, logical);
        ok = false;
    }
    bool has_parent = parameters.flags & format::kHasParent;
    if (has_parent && found[5] < 0) {
        c.report(Severity::damaged,
                 "metadata: differencing disk (HasParent) without a Parent Locator item",
                 c.metadata_offset);
        ok = false;
    } else if (has_parent) {
        const format::MetadataTableEntry& e = entries[found[5]];
        Buffer item = TRY(Buffer::allocate(c.allocator, e.length));
        TRY(c.io.read(item_at(5), item.span()));
        auto locator = parse_parent_locator(c.allocator, item.span());
        if (locator.is_error()) {
            c.report(Severity::damaged, locator.error().message(), item_at(5));
            ok = false;
        } else {
            std::string_view linkage = locator.value().find("parent_linkage");
            Guid guid;
            if (!Guid::parse(linkage.data(), linkage.size(), guid)) {
                c.report(Severity::damaged, "parent locator: parent_linkage missing or not a GUID",
                         item_at(5));
                ok = false;
            }
            if (locator.value().find("relative_path").empty() &&
                locator.value().find("absolute_win32_path").empty() &&
                locator.value().find("volume_path").empty()) {
                c.report(Severity::damaged, "parent locator: no path to the parent", item_at(5));
                ok = false;
            }
        }
    } else if (found[5] >= 0) {
        c.report(Severity::note, "metadata: Parent Locator item on a disk without HasParent",
                 item_at(5));
    }
    c.block_size = parameters.block_size;
    c.has_parent = has_parent;
    c.leave_blocks_allocated = parameters.flags & format::kLeaveBlocksAllocated;
    c.virtual_size = virtual_size;
    c.logical_sector_size = logical;
    return ok;
}

} // namespace halcyon::vhdx::ops::detail
