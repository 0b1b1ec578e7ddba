// Guest-virtual to guest-physical translation by walking the guest's own page tables, for the
// hypervisor's reads of guest memory (instruction fetch for decoding, later MMIO emulation).
// Pure: guest memory is read through a callable `bool read64(uint64_t gpa, uint64_t& out)`.
//
// Supported: paging off (virtual = physical) and 4-level long-mode paging with 4 KiB, 2 MiB and
// 1 GiB pages. Legacy 32-bit and PAE paging, and 5-level paging, report not_supported rather
// than guess. Permission bits are not checked: callers only read what the guest itself just
// executed or accessed.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::vmm {

struct GuestPaging {
    uint64_t cr0;
    uint64_t cr3;
    uint64_t cr4;
    uint64_t efer;
};

template <typename Read64>
[[nodiscard]] ErrorOr<uint64_t> guest_virtual_to_physical(const GuestPaging& paging, uint64_t virt,
                                                          Read64 read64) {
    constexpr uint64_t kCr0Pg = 1ull << 31;
    constexpr uint64_t kCr4La57 = 1ull << 12;
    constexpr uint64_t kEferLma = 1ull << 10;
    constexpr uint64_t kPresent = 1ull << 0;
    constexpr uint64_t kLarge = 1ull << 7;
    constexpr uint64_t kAddress = 0x000F'FFFF'FFFF'F000ull;

    if ((paging.cr0 & kCr0Pg) == 0)
        return virt;
    if ((paging.efer & kEferLma) == 0 || (paging.cr4 & kCr4La57) != 0)
        return Error(ErrorCode::not_supported, "guest paging mode is not 4-level long mode");
    uint64_t table = paging.cr3 & kAddress;
    for (int level = 3; level >= 0; --level) {
        const int shift = 12 + 9 * level;
        uint64_t entry = 0;
        if (!read64(table + ((virt >> shift) & 0x1FF) * 8, entry))
            return Error(ErrorCode::out_of_range, "guest page table outside guest memory");
        if ((entry & kPresent) == 0)
            return Error(ErrorCode::not_found, "guest virtual address not mapped");
        if (level == 0 || ((level == 1 || level == 2) && (entry & kLarge))) {
            const uint64_t page_mask = (1ull << shift) - 1;
            // Large pages: bit 12 is the PAT bit, not an address bit.
            const uint64_t base = entry & kAddress & ~page_mask;
            return base | (virt & page_mask);
        }
        table = entry & kAddress;
    }
    return Error(ErrorCode::corrupt, "unreachable");
}

} // namespace halcyon::vmm
