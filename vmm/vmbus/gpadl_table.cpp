#include "vmm/vmbus/gpadl_table.hpp"

#include "vmm/vmbus/vmbus_protocol.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus {

namespace {

// A pfn whose page address does not fit 52 bits of physical address is never RAM; refusing it
// up front keeps `pfn << 12` from wrapping.
constexpr uint64_t kMaxPfn = (uint64_t{1} << 40) - 1;

} // namespace

bool guest_page_present(GuestMemory& memory, uint64_t pfn) {
    if (pfn > kMaxPfn)
        return false;
    uint8_t probe[1];
    uint64_t base = pfn << protocol::kPageShift;
    return !memory.read(base, probe).is_error() &&
           !memory.read(base + protocol::kPageSize - 1, probe).is_error();
}

int32_t GpadlTable::find(uint32_t id) const {
    for (uint32_t i = 0; i < kMaxGpadls; ++i) {
        if (slots_[i].state != GpadlState::free && slots_[i].id == id)
            return static_cast<int32_t>(i);
    }
    return kNone;
}

ErrorOr<uint32_t> GpadlTable::allocate_pool(uint32_t entries) const {
    // First fit over the gaps between live GPADLs, in pool order. At most kMaxGpadls extents,
    // and this runs once per GPADL_HEADER: a quadratic scan is fine.
    uint32_t candidate = 0;
    for (;;) {
        bool moved = false;
        for (const GpadlInfo& slot : slots_) {
            if (slot.state == GpadlState::free)
                continue;
            uint32_t start = slot.pool_offset;
            uint32_t end = start + slot.total_entries;
            if (candidate < end && start < candidate + entries) {
                candidate = end;
                moved = true;
            }
        }
        if (candidate > kGpadlPoolEntries || kGpadlPoolEntries - candidate < entries)
            return Error(ErrorCode::out_of_memory, "GPADL pool of this VM is full");
        if (!moved)
            return candidate;
    }
}

ErrorOr<uint32_t> GpadlTable::begin(uint32_t relid, uint32_t id, uint16_t range_count,
                                    uint16_t range_bytes) {
    if (find(id) != kNone)
        return Error(ErrorCode::already_exists, "GPADL id already in use");
    if (range_count == 0 || range_count > kMaxGpadlRanges)
        return Error(ErrorCode::out_of_range, "GPADL range count is 0 or above the limit");
    if (range_bytes % 8 != 0)
        return Error(ErrorCode::invalid_argument, "GPADL range buffer is not whole u64 entries");
    uint32_t entries = range_bytes / 8;
    // Every range needs its header and at least one page.
    if (entries < 2u * range_count)
        return Error(ErrorCode::invalid_argument, "GPADL range buffer too small for its ranges");
    if (entries > kMaxGpadlEntries)
        return Error(ErrorCode::out_of_range, "GPADL larger than the per-GPADL limit");
    int32_t free_slot = kNone;
    for (uint32_t i = 0; i < kMaxGpadls; ++i) {
        if (slots_[i].state == GpadlState::free) {
            free_slot = static_cast<int32_t>(i);
            break;
        }
    }
    if (free_slot == kNone)
        return Error(ErrorCode::out_of_memory, "too many GPADLs in this VM");
    uint32_t offset = TRY(allocate_pool(entries));
    GpadlInfo& slot = slots_[free_slot];
    slot = GpadlInfo{};
    slot.state = GpadlState::receiving;
    slot.range_count = range_count;
    slot.id = id;
    slot.relid = relid;
    slot.total_entries = entries;
    slot.pool_offset = offset;
    return static_cast<uint32_t>(free_slot);
}

ErrorOr<bool> GpadlTable::append(uint32_t slot_index, std::span<const uint8_t> bytes) {
    GpadlInfo& slot = slots_[slot_index];
    if (slot.state != GpadlState::receiving)
        return Error(ErrorCode::invalid_argument, "GPADL is not receiving pages");
    uint32_t missing = slot.total_entries - slot.filled_entries;
    uint32_t whole = static_cast<uint32_t>(bytes.size() / 8);
    uint32_t take = whole < missing ? whole : missing;
    if (take != 0)
        memcpy(pool_ + slot.pool_offset + slot.filled_entries, bytes.data(), size_t{take} * 8);
    slot.filled_entries += take;
    return slot.filled_entries == slot.total_entries;
}

ErrorOr<void> GpadlTable::validate(uint32_t slot_index, GuestMemory& memory) {
    GpadlInfo& slot = slots_[slot_index];
    if (slot.state != GpadlState::receiving || slot.filled_entries != slot.total_entries)
        return Error(ErrorCode::invalid_argument, "GPADL is incomplete");
    const uint64_t* entry = pool_ + slot.pool_offset;
    uint32_t position = 0;
    for (uint32_t range = 0; range < slot.range_count; ++range) {
        if (position >= slot.total_entries)
            return Error(ErrorCode::invalid_argument, "GPADL has fewer entries than ranges");
        uint64_t header = entry[position++];
        uint32_t byte_count = static_cast<uint32_t>(header);
        uint32_t byte_offset = static_cast<uint32_t>(header >> 32);
        if (byte_count == 0)
            return Error(ErrorCode::invalid_argument, "GPADL range of 0 bytes");
        if (byte_offset >= protocol::kPageSize)
            return Error(ErrorCode::invalid_argument, "GPADL range offset beyond its first page");
        uint64_t pages =
            (uint64_t{byte_offset} + byte_count + protocol::kPageSize - 1) >> protocol::kPageShift;
        if (pages > slot.total_entries - position)
            return Error(ErrorCode::invalid_argument, "GPADL range has more bytes than pages");
        for (uint64_t page = 0; page < pages; ++page) {
            if (!guest_page_present(memory, entry[position + page]))
                return Error(ErrorCode::out_of_range, "GPADL page outside guest RAM");
        }
        position += static_cast<uint32_t>(pages);
    }
    if (position != slot.total_entries)
        return Error(ErrorCode::invalid_argument, "GPADL range buffer longer than its ranges");
    slot.state = GpadlState::complete;
    return {};
}

ErrorOr<std::span<const uint64_t>> GpadlTable::aligned_pages(uint32_t slot_index) const {
    const GpadlInfo& slot = slots_[slot_index];
    if (slot.state != GpadlState::complete)
        return Error(ErrorCode::invalid_argument, "GPADL is not complete");
    if (slot.range_count != 1)
        return Error(ErrorCode::invalid_argument, "ring GPADL must be a single range");
    uint64_t header = pool_[slot.pool_offset];
    uint32_t byte_count = static_cast<uint32_t>(header);
    uint32_t byte_offset = static_cast<uint32_t>(header >> 32);
    if (byte_offset != 0 || byte_count % protocol::kPageSize != 0)
        return Error(ErrorCode::invalid_argument, "ring GPADL is not page aligned");
    return std::span<const uint64_t>(pool_ + slot.pool_offset + 1,
                                     byte_count / protocol::kPageSize);
}

std::span<const uint64_t> GpadlTable::entries(uint32_t slot_index) const {
    const GpadlInfo& slot = slots_[slot_index];
    return {pool_ + slot.pool_offset, slot.filled_entries};
}

void GpadlTable::release(uint32_t slot_index) {
    slots_[slot_index] = GpadlInfo{};
}

void GpadlTable::release_relid(uint32_t relid) {
    for (GpadlInfo& slot : slots_) {
        if (slot.state != GpadlState::free && slot.relid == relid)
            slot = GpadlInfo{};
    }
}

void GpadlTable::release_all() {
    for (GpadlInfo& slot : slots_)
        slot = GpadlInfo{};
}

uint32_t GpadlTable::count() const {
    uint32_t n = 0;
    for (const GpadlInfo& slot : slots_)
        n += slot.state != GpadlState::free ? 1 : 0;
    return n;
}

uint32_t GpadlTable::pool_entries_used() const {
    uint32_t n = 0;
    for (const GpadlInfo& slot : slots_)
        n += slot.state != GpadlState::free ? slot.total_entries : 0;
    return n;
}

} // namespace halcyon::vmm::vmbus
