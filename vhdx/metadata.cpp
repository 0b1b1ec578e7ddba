#include "vhdx/metadata.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

using format::MetadataTableEntry;
using format::MetadataTableHeader;

constexpr uint32_t kPage = 4096;
constexpr uint32_t kMaxUserItems = 1024;         // MS-VHDX 2.6.1.2
constexpr uint32_t kMaxItemLength = 1024 * 1024; // MS-VHDX 2.6.1.2

uint64_t round_down(uint64_t value, uint64_t to) {
    return value / to * to;
}
uint64_t round_up(uint64_t value, uint64_t to) {
    return (value + to - 1) / to * to;
}

struct SystemItem {
    const Guid* id;
    uint32_t size; // 0: variable
    uint32_t flags;
};
constexpr uint32_t kRequired = format::kMetadataIsRequired;
constexpr uint32_t kVirtual = format::kMetadataIsVirtualDisk;
const SystemItem kSystemItems[] = {
    {&format::kFileParametersItem, 8, kRequired},
    {&format::kVirtualDiskSizeItem, 8, kRequired | kVirtual},
    {&format::kPage83Item, 16, kRequired | kVirtual},
    {&format::kLogicalSectorSizeItem, 4, kRequired | kVirtual},
    {&format::kPhysicalSectorSizeItem, 4, kRequired | kVirtual},
    {&format::kParentLocatorItem, 0, kRequired},
};

bool is_system_item(const Guid& id) {
    for (const SystemItem& item : kSystemItems) {
        if (*item.id == id)
            return true;
    }
    return false;
}

bool overlaps(uint64_t a, uint64_t a_length, uint64_t b, uint64_t b_length) {
    return a < b + b_length && b < a + a_length;
}

} // namespace

ErrorOr<void> validate_parameters(const DiskParameters& p) {
    if (p.block_size < 1 * format::kMiB || p.block_size > 256 * format::kMiB ||
        (p.block_size & (p.block_size - 1)) != 0)
        return Error(ErrorCode::invalid_argument,
                     "metadata: block size is not a power of two between 1 MiB and 256 MiB");
    if (p.logical_sector_size != 512 && p.logical_sector_size != 4096)
        return Error(ErrorCode::invalid_argument,
                     "metadata: logical sector size is not 512 or 4096");
    if (p.physical_sector_size != 512 && p.physical_sector_size != 4096)
        return Error(ErrorCode::invalid_argument,
                     "metadata: physical sector size is not 512 or 4096");
    if (p.virtual_size == 0 || p.virtual_size % p.logical_sector_size != 0)
        return Error(ErrorCode::invalid_argument,
                     "metadata: virtual size is zero or not a multiple of the logical sector size");
    if (p.virtual_size > (64ull << 40))
        return Error(ErrorCode::invalid_argument, "metadata: virtual size exceeds 64 TiB");
    return {};
}

ErrorOr<MetadataTable> MetadataTable::load(BlockIo& io, Allocator& allocator,
                                           uint64_t region_offset, uint32_t region_length) {
    if (region_length < format::kMetadataTableSize)
        return Error(ErrorCode::corrupt, "metadata: region smaller than its 64 KiB table");
    MetadataTable table;
    table.table_ = TRY(Buffer::allocate(allocator, format::kMetadataTableSize));
    table.region_offset_ = region_offset;
    table.region_length_ = region_length;
    TRY(io.read(region_offset, table.table_.span()));
    const MetadataTableHeader* header = table.header();
    if (header->signature != format::kMetadataSignature)
        return Error(ErrorCode::corrupt, "metadata: table signature is not \"metadata\"");
    if (header->entry_count > format::kMaxMetadataEntries)
        return Error(ErrorCode::corrupt, "metadata: table has more than 2047 entries");
    const MetadataTableEntry* entries = table.entries();
    uint32_t user_items = 0;
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        const MetadataTableEntry& entry = entries[i];
        if (entry.length == 0 && entry.offset != 0)
            return Error(ErrorCode::corrupt, "metadata: empty item with a non-zero offset");
        if (entry.length != 0 && (entry.offset < format::kMetadataTableSize ||
                                  uint64_t(entry.offset) + entry.length > region_length))
            return Error(ErrorCode::corrupt, "metadata: item lies outside the metadata region");
        if (entry.length > kMaxItemLength)
            return Error(ErrorCode::corrupt, "metadata: item longer than 1 MiB");
        bool user = entry.flags & format::kMetadataIsUser;
        if (user && ++user_items > kMaxUserItems)
            return Error(ErrorCode::corrupt, "metadata: more than 1024 user items");
        if (!user && (entry.flags & format::kMetadataIsRequired) && !is_system_item(entry.item_id))
            return Error(ErrorCode::not_supported, "metadata: unknown item marked required");
        for (uint32_t j = 0; j < i; ++j) {
            if (entries[j].item_id == entry.item_id &&
                ((entries[j].flags ^ entry.flags) & format::kMetadataIsUser) == 0)
                return Error(ErrorCode::corrupt, "metadata: duplicate item");
            if (entry.length != 0 && entries[j].length != 0 &&
                overlaps(entry.offset, entry.length, entries[j].offset, entries[j].length))
                return Error(ErrorCode::corrupt, "metadata: items overlap");
        }
    }
    for (const SystemItem& item : kSystemItems) {
        int index = table.find(*item.id);
        if (item.size == 0)
            continue; // the parent locator is checked once HasParent is known
        if (index < 0)
            return Error(ErrorCode::corrupt, "metadata: a required system item is missing");
        if (entries[index].length != item.size)
            return Error(ErrorCode::corrupt, "metadata: a system item has the wrong length");
    }
    return table;
}

int MetadataTable::find(const Guid& id) const {
    for (uint32_t i = 0; i < count(); ++i) {
        if (entries()[i].item_id == id)
            return static_cast<int>(i);
    }
    return -1;
}

ErrorOr<void> MetadataTable::read_fixed_item(BlockIo& io, const Guid& id, void* out,
                                             uint32_t size) const {
    int index = find(id);
    if (index < 0 || entries()[index].length != size)
        return Error(ErrorCode::corrupt, "metadata: a required system item is missing");
    return io.read(region_offset_ + entries()[index].offset, {static_cast<uint8_t*>(out), size});
}

ErrorOr<DiskParameters> MetadataTable::read_parameters(BlockIo& io) const {
    format::FileParameters file_parameters;
    DiskParameters p{};
    TRY(read_fixed_item(io, format::kFileParametersItem, &file_parameters, 8));
    TRY(read_fixed_item(io, format::kVirtualDiskSizeItem, &p.virtual_size, 8));
    TRY(read_fixed_item(io, format::kPage83Item, &p.disk_id, 16));
    TRY(read_fixed_item(io, format::kLogicalSectorSizeItem, &p.logical_sector_size, 4));
    TRY(read_fixed_item(io, format::kPhysicalSectorSizeItem, &p.physical_sector_size, 4));
    p.block_size = file_parameters.block_size;
    p.leave_blocks_allocated = file_parameters.flags & format::kLeaveBlocksAllocated;
    p.has_parent = file_parameters.flags & format::kHasParent;
    auto valid = validate_parameters(p);
    if (valid.is_error())
        return Error(ErrorCode::corrupt, valid.error().message());
    int locator = find(format::kParentLocatorItem);
    if (p.has_parent &&
        (locator < 0 || entries()[locator].length < sizeof(format::ParentLocatorHeader)))
        return Error(ErrorCode::corrupt, "metadata: differencing disk without a parent locator");
    return p;
}

ErrorOr<Buffer> MetadataTable::read_item(BlockIo& io, Allocator& allocator, uint32_t index) const {
    const MetadataTableEntry& entry = entries()[index];
    Buffer buffer = TRY(Buffer::allocate(allocator, entry.length));
    if (entry.length != 0)
        TRY(io.read(region_offset_ + entry.offset, buffer.span()));
    return buffer;
}

ErrorOr<MetadataTable> MetadataTable::build_new(Allocator& allocator, uint64_t region_offset,
                                                uint32_t region_length,
                                                const DiskParameters& parameters,
                                                std::span<const uint8_t> parent_locator) {
    MetadataTable table;
    table.table_ = TRY(Buffer::allocate(allocator, format::kMetadataTableSize));
    table.region_offset_ = region_offset;
    table.region_length_ = region_length;
    auto* header = table.table_.as<MetadataTableHeader>();
    header->signature = format::kMetadataSignature;
    auto* entries = table.table_.as<MetadataTableEntry>(sizeof(MetadataTableHeader));
    uint32_t offset = format::kMetadataTableSize;
    uint16_t count = 0;
    for (const SystemItem& item : kSystemItems) {
        uint32_t length = item.size;
        if (item.size == 0) {
            if (!parameters.has_parent)
                continue;
            length = static_cast<uint32_t>(parent_locator.size());
        }
        entries[count++] = {*item.id, offset, length, item.flags, 0};
        offset += static_cast<uint32_t>(round_up(length, kPage));
    }
    if (offset > region_length)
        return Error(ErrorCode::invalid_argument, "metadata: parent locator too large");
    header->entry_count = count;
    return table;
}

ErrorOr<void> MetadataTable::write_new(BlockIo& io, Allocator& allocator, const DiskParameters& p,
                                       std::span<const uint8_t> parent_locator) {
    Buffer items = TRY(Buffer::allocate(allocator, region_length_ - format::kMetadataTableSize));
    for (uint32_t i = 0; i < count(); ++i) {
        const MetadataTableEntry& entry = entries()[i];
        uint8_t* at = items.data() + (entry.offset - format::kMetadataTableSize);
        if (entry.item_id == format::kFileParametersItem) {
            format::FileParameters fp{
                p.block_size, (p.leave_blocks_allocated ? format::kLeaveBlocksAllocated : 0u) |
                                  (p.has_parent ? format::kHasParent : 0u)};
            memcpy(at, &fp, sizeof fp);
        } else if (entry.item_id == format::kVirtualDiskSizeItem) {
            memcpy(at, &p.virtual_size, 8);
        } else if (entry.item_id == format::kPage83Item) {
            memcpy(at, &p.disk_id, 16);
        } else if (entry.item_id == format::kLogicalSectorSizeItem) {
            memcpy(at, &p.logical_sector_size, 4);
        } else if (entry.item_id == format::kPhysicalSectorSizeItem) {
            memcpy(at, &p.physical_sector_size, 4);
        } else if (entry.item_id == format::kParentLocatorItem) {
            memcpy(at, parent_locator.data(), parent_locator.size());
        }
    }
    TRY(io.write(region_offset_, table_.span()));
    return io.write(region_offset_ + format::kMetadataTableSize, items.span());
}

ErrorOr<uint32_t> MetadataTable::stage_user_item(BlockIo& io, Allocator& allocator, const Guid& id,
                                                 const uint8_t* data, uint32_t length,
                                                 bool is_virtual_disk, Buffer& scratch,
                                                 LogUpdate (&updates)[2]) {
    if (is_system_item(id))
        return Error(ErrorCode::permission, "metadata: system items cannot be changed this way");
    if (data != nullptr && (length == 0 || length > kMaxItemLength))
        return Error(ErrorCode::invalid_argument, "metadata: user item must be 1 byte to 1 MiB");
    (void)io;
    uint64_t item_pages = data != nullptr ? round_up(length, kPage) : 0;
    scratch = TRY(Buffer::allocate(allocator, format::kMetadataTableSize + item_pages));
    memcpy(scratch.data(), table_.data(), format::kMetadataTableSize);
    auto* header = scratch.as<MetadataTableHeader>();
    auto* entries = scratch.as<MetadataTableEntry>(sizeof(MetadataTableHeader));
    int existing = find(id);
    if (existing >= 0 && !(entries[existing].flags & format::kMetadataIsUser))
        return Error(ErrorCode::permission, "metadata: an item with this id is not a user item");
    if (existing >= 0) {
        // Drop the old entry; its space becomes free in the same atomic log entry.
        memmove(&entries[existing], &entries[existing + 1],
                (header->entry_count - existing - 1) * sizeof(MetadataTableEntry));
        header->entry_count--;
        memset(&entries[header->entry_count], 0, sizeof(MetadataTableEntry));
    } else if (data == nullptr) {
        return Error(ErrorCode::not_found, "metadata: no such item");
    }
    uint32_t count = 1;
    updates[0] = {region_offset_, format::kMetadataTableSize, scratch.data()};
    if (data == nullptr)
        return count;
    uint32_t users = 0;
    for (uint32_t i = 0; i < header->entry_count; ++i)
        users += (entries[i].flags & format::kMetadataIsUser) ? 1 : 0;
    if (users >= kMaxUserItems || header->entry_count >= format::kMaxMetadataEntries)
        return Error(ErrorCode::out_of_range, "metadata: table is full");
    // First 4 KiB-aligned gap not touching any page of another item, so whole pages can be
    // written without disturbing neighbours.
    uint64_t candidate = format::kMetadataTableSize;
    for (bool moved = true; moved;) {
        moved = false;
        for (uint32_t i = 0; i < header->entry_count; ++i) {
            if (entries[i].length == 0)
                continue;
            uint64_t start = round_down(entries[i].offset, kPage);
            uint64_t end = round_up(uint64_t(entries[i].offset) + entries[i].length, kPage);
            if (overlaps(candidate, item_pages, start, end - start)) {
                candidate = end;
                moved = true;
            }
        }
    }
    if (candidate + item_pages > region_length_)
        return Error(ErrorCode::out_of_range, "metadata: no room left in the metadata region");
    uint32_t flags =
        format::kMetadataIsUser | (is_virtual_disk ? format::kMetadataIsVirtualDisk : 0);
    entries[header->entry_count++] = {id, static_cast<uint32_t>(candidate), length, flags, 0};
    memcpy(scratch.data() + format::kMetadataTableSize, data, length);
    updates[count++] = {region_offset_ + candidate, item_pages,
                        scratch.data() + format::kMetadataTableSize};
    return count;
}

void MetadataTable::commit_staged(const Buffer& scratch) {
    memcpy(table_.data(), scratch.data(), format::kMetadataTableSize);
}

} // namespace halcyon::vhdx
