#include "mm/guest_page_walk.hpp"

namespace halcyon::mm {

using namespace guest_paging;

namespace {

constexpr uint64_t kEntryPresent = 1ULL << 0;
constexpr uint64_t kEntryWritable = 1ULL << 1;
constexpr uint64_t kEntryUser = 1ULL << 2;
constexpr uint64_t kEntryAccessed = 1ULL << 5;
constexpr uint64_t kEntryDirty = 1ULL << 6;
constexpr uint64_t kEntryLarge = 1ULL << 7;
constexpr uint64_t kEntryNoExecute = 1ULL << 63;

// Bits [high:low] set.
constexpr uint64_t bit_range(unsigned high, unsigned low) {
    const uint64_t upto_high = high >= 63 ? ~0ULL : (1ULL << (high + 1)) - 1;
    return upto_high & ~((1ULL << low) - 1);
}

// One entry the walk used, remembered so Accessed/Dirty can be set once the access is known to
// succeed (a faulting access must not leave A/D behind in the leaf).
struct UsedEntry {
    uint64_t gpa;
    uint64_t value;
    uint8_t width; // 4 or 8 bytes
    bool leaf;
};

struct WalkState {
    UsedEntry used[5];
    int used_count = 0;
    bool writable = true;
    bool user = true;
    bool no_execute = false;
};

ErrorOr<uint64_t> read_entry(GuestPhysicalMemory& memory, uint64_t gpa, uint8_t width) {
    uint64_t value = 0;
    // Little-endian: a 4-byte read fills the low half.
    TRY(memory.read(gpa, &value, width));
    return value;
}

GuestWalkResult page_fault(uint32_t code) {
    GuestWalkResult result;
    result.status = GuestWalkStatus::page_fault;
    result.error_code = code;
    return result;
}

bool fetch_reports_id(const GuestPagingState& state, GuestPagingMode mode) {
    // The I/D bit is only defined when there is something that can make a fetch fail on its own:
    // NX (PAE or long mode with EFER.NXE) or SMEP.
    const bool nx_enabled = mode != GuestPagingMode::legacy32 && (state.efer & kEferNxe);
    return nx_enabled || (state.cr4 & kCr4Smep);
}

uint32_t base_error_code(const GuestPagingState& state, GuestPagingMode mode, GuestAccess access) {
    uint32_t code = 0;
    if (access.write)
        code |= kPfWrite;
    if (access.user)
        code |= kPfUser;
    if (access.execute && fetch_reports_id(state, mode))
        code |= kPfFetch;
    return code;
}

// The permission checks of a completed walk (SDM 4.6 / APM 5.6).
bool access_allowed(const GuestPagingState& state, const WalkState& walk, GuestAccess access) {
    if (access.execute) {
        if (walk.no_execute)
            return false;
        if (access.user)
            return walk.user;
        return !(walk.user && (state.cr4 & kCr4Smep));
    }
    if (access.user)
        return walk.user && (!access.write || walk.writable);
    if (walk.user && (state.cr4 & kCr4Smap) && (access.implicit_supervisor || !access.rflags_ac))
        return false;
    // Supervisor writes ignore R/W unless CR0.WP is set.
    return !access.write || walk.writable || !(state.cr0 & kCr0WriteProtect);
}

ErrorOr<void> set_accessed_dirty(GuestPhysicalMemory& memory, const WalkState& walk, bool write) {
    for (int i = 0; i < walk.used_count; ++i) {
        const UsedEntry& entry = walk.used[i];
        uint64_t updated = entry.value | kEntryAccessed;
        if (entry.leaf && write)
            updated |= kEntryDirty;
        if (updated != entry.value)
            TRY(memory.write(entry.gpa, &updated, entry.width));
    }
    return {};
}

GuestWalkResult finish(const GuestPagingState& state, GuestPagingMode mode, const WalkState& walk,
                       GuestAccess access, uint64_t gpa, uint64_t page_size) {
    if (!access_allowed(state, walk, access))
        return page_fault(base_error_code(state, mode, access) | kPfPresent);
    GuestWalkResult result;
    result.gpa = gpa;
    result.page_size = page_size;
    result.writable = walk.writable;
    result.user = walk.user;
    result.executable = !walk.no_execute;
    return result;
}

// 32-bit paging: two levels of 4-byte entries, optional 4 MiB pages (CR4.PSE) whose bits 20:13
// carry physical address bits 39:32 (PSE-36/PSE-40).
ErrorOr<GuestWalkResult> walk_legacy32(const GuestPagingState& state, uint32_t linear,
                                       GuestAccess access, GuestPhysicalMemory& memory,
                                       WalkState& walk) {
    const GuestPagingMode mode = GuestPagingMode::legacy32;
    const uint32_t fault_base = base_error_code(state, mode, access);
    const uint64_t pde_gpa = (state.cr3 & 0xFFFF'F000ULL) + ((linear >> 22) & 0x3FF) * 4;
    const uint64_t pde = TRY(read_entry(memory, pde_gpa, 4));
    if (!(pde & kEntryPresent))
        return page_fault(fault_base);
    walk.writable = pde & kEntryWritable;
    walk.user = pde & kEntryUser;
    if ((pde & kEntryLarge) && (state.cr4 & kCr4Pse)) {
        const uint64_t high = (pde >> 13) & 0xFF; // physical bits 39:32
        const unsigned high_bits =
            state.physical_address_bits < 40 ? state.physical_address_bits - 32 : 8;
        if ((pde & (1ULL << 21)) || (high >> high_bits) != 0)
            return page_fault(fault_base | kPfPresent | kPfReserved);
        walk.used[walk.used_count++] = {pde_gpa, pde, 4, true};
        const uint64_t gpa = (pde & 0xFFC0'0000ULL) | (high << 32) | (linear & 0x3F'FFFF);
        return finish(state, mode, walk, access, gpa, 4ULL << 20);
    }
    walk.used[walk.used_count++] = {pde_gpa, pde, 4, false};
    const uint64_t pte_gpa = (pde & 0xFFFF'F000ULL) + ((linear >> 12) & 0x3FF) * 4;
    const uint64_t pte = TRY(read_entry(memory, pte_gpa, 4));
    if (!(pte & kEntryPresent))
        return page_fault(fault_base);
    walk.writable = walk.writable && (pte & kEntryWritable);
    walk.user = walk.user && (pte & kEntryUser);
    walk.used[walk.used_count++] = {pte_gpa, pte, 4, true};
    return finish(state, mode, walk, access, (pte & 0xFFFF'F000ULL) | (linear & 0xFFF), 4096);
}

// PAE, 4-level and 5-level paging: 8-byte entries, 9 index bits per level.
ErrorOr<GuestWalkResult> walk_wide(const GuestPagingState& state, GuestPagingMode mode,
                                   uint64_t linear, GuestAccess access, GuestPhysicalMemory& memory,
                                   WalkState& walk) {
    const uint32_t fault_base = base_error_code(state, mode, access);
    const bool nxe = state.efer & kEferNxe;
    const uint64_t above_maxphys = bit_range(51, state.physical_address_bits);
    // Bits the CPU requires to be zero in every entry of the mode. In PAE paging bits 62:52 are
    // reserved; in long mode they are ignored (software-available / protection key).
    uint64_t reserved_common = above_maxphys | (nxe ? 0 : kEntryNoExecute);
    if (mode == GuestPagingMode::pae)
        reserved_common |= bit_range(62, 52);

    int level; // 0 = PT ... 4 = PML5
    uint64_t table;
    if (mode == GuestPagingMode::pae) {
        // The four PDPTEs: no permission bits, so R/W, U/S, PWT..PS-adjacent bits and NX are
        // reserved (SDM Table 4-8).
        const uint64_t pdpte_gpa = (state.cr3 & 0xFFFF'FFE0ULL) + ((linear >> 30) & 3) * 8;
        const uint64_t pdpte = TRY(read_entry(memory, pdpte_gpa, 8));
        if (!(pdpte & kEntryPresent))
            return page_fault(fault_base);
        const uint64_t reserved = above_maxphys | bit_range(63, 52) | bit_range(8, 5) | 0x6;
        if (pdpte & reserved)
            return page_fault(fault_base | kPfPresent | kPfReserved);
        table = pdpte & bit_range(51, 12);
        level = 1;
    } else {
        level = mode == GuestPagingMode::long5 ? 4 : 3;
        table = state.cr3 & bit_range(51, 12);
    }

    for (;; --level) {
        const uint64_t entry_gpa = table + ((linear >> (12 + 9 * level)) & 0x1FF) * 8;
        const uint64_t entry = TRY(read_entry(memory, entry_gpa, 8));
        if (!(entry & kEntryPresent))
            return page_fault(fault_base);
        // PS is reserved above the PDPT; 1 GiB pages exist only in long mode.
        const bool can_be_large = level == 1 || (level == 2 && mode != GuestPagingMode::pae);
        const bool large = level > 0 && (entry & kEntryLarge);
        uint64_t reserved = reserved_common;
        if (large && !can_be_large)
            reserved |= kEntryLarge;
        else if (large)
            reserved |= bit_range(12 + 9 * level - 1, 13); // below the aligned base, above PAT
        if (entry & reserved)
            return page_fault(fault_base | kPfPresent | kPfReserved);
        walk.writable = walk.writable && (entry & kEntryWritable);
        walk.user = walk.user && (entry & kEntryUser);
        walk.no_execute = walk.no_execute || (nxe && (entry & kEntryNoExecute));
        const bool leaf = level == 0 || large;
        walk.used[walk.used_count++] = {entry_gpa, entry, 8, leaf};
        if (leaf) {
            const uint64_t page_size = 1ULL << (12 + 9 * level);
            const uint64_t base = entry & bit_range(51, 12) & ~(page_size - 1);
            return finish(state, mode, walk, access, base | (linear & (page_size - 1)), page_size);
        }
        table = entry & bit_range(51, 12);
    }
}

} // namespace

GuestPagingMode guest_paging_mode(const GuestPagingState& state) {
    if (!(state.cr0 & kCr0Paging))
        return GuestPagingMode::none;
    if (!(state.cr4 & kCr4Pae))
        return GuestPagingMode::legacy32;
    if (!(state.efer & kEferLma))
        return GuestPagingMode::pae;
    return (state.cr4 & kCr4La57) ? GuestPagingMode::long5 : GuestPagingMode::long4;
}

bool guest_address_canonical(const GuestPagingState& state, uint64_t linear) {
    const GuestPagingMode mode = guest_paging_mode(state);
    if (mode != GuestPagingMode::long4 && mode != GuestPagingMode::long5)
        return true;
    const unsigned bits = mode == GuestPagingMode::long5 ? 57 : 48;
    const int64_t extended =
        static_cast<int64_t>(linear << (64 - bits)) >> (64 - bits); // sign-extend from bit 47/56
    return static_cast<uint64_t>(extended) == linear;
}

ErrorOr<GuestWalkResult> walk_guest_page_tables(const GuestPagingState& state, uint64_t linear,
                                                GuestAccess access, GuestPhysicalMemory& memory,
                                                GuestWalkOptions options) {
    const GuestPagingMode mode = guest_paging_mode(state);
    if (!guest_address_canonical(state, linear)) {
        GuestWalkResult result;
        result.status = GuestWalkStatus::general_protection;
        return result;
    }
    WalkState walk;
    GuestWalkResult result;
    switch (mode) {
    case GuestPagingMode::none:
        // Without paging, linear addresses are 32-bit and map 1:1 with every right.
        result.gpa = linear & 0xFFFF'FFFFULL;
        result.page_size = 4096;
        result.writable = result.user = result.executable = true;
        return result;
    case GuestPagingMode::legacy32:
        result = TRY(walk_legacy32(state, static_cast<uint32_t>(linear), access, memory, walk));
        break;
    case GuestPagingMode::pae:
        result = TRY(walk_wide(state, mode, linear & 0xFFFF'FFFFULL, access, memory, walk));
        break;
    case GuestPagingMode::long4:
    case GuestPagingMode::long5:
        result = TRY(walk_wide(state, mode, linear, access, memory, walk));
        break;
    }
    if (result.status == GuestWalkStatus::ok && options.set_accessed_dirty)
        TRY(set_accessed_dirty(memory, walk, access.write));
    return result;
}

} // namespace halcyon::mm
