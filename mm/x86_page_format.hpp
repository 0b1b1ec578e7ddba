// Entry encoding of x86-64 4-level long-mode paging, also used unchanged by AMD NPT (nested page
// tables are ordinary long-mode tables walked with the guest access treated as a user access).
//
// A Format is the only thing the PageTable walker knows about entry bits. Levels are numbered
// from the leaf: 0 = PT (4 KiB), 1 = PD (2 MiB), 2 = PDPT (1 GiB), 3 = PML4. A Format provides:
//   kLevels, kMaxLeafLevel, is_present(), is_leaf(entry, level), address(entry, level),
//   make_table(physical), make_leaf(physical, attributes, level), attributes(entry, level).
// EptFormat (ept_format.hpp) provides the same with EPT bits (R/W/X, memory type in bits 5:3).
#pragma once

#include "mm/page_attributes.hpp"
#include <stdint.h>

namespace halcyon::mm {

// The PAT layout the x86 format assumes (IA32_PAT, MSR 0x277): index 0 WB, 1 WT, 2 UC-, 3 UC
// (the power-on defaults), 4 WC, 5 WP, 6 UC-, 7 UC. The core must load this value into
// IA32_PAT on every CPU before using write_combining or write_protected mappings.
inline constexpr uint64_t kX86PatMsrValue = 0x0007'0501'0007'0406ULL;
// PAT memory type encodings per index, low byte first: 06 04 07 00 01 05 07 00.
static_assert(kX86PatMsrValue ==
              ((0x06ULL << 0) | (0x04ULL << 8) | (0x07ULL << 16) | (0x00ULL << 24) |
               (0x01ULL << 32) | (0x05ULL << 40) | (0x07ULL << 48) | (0x00ULL << 56)));

struct X86PageFormat {
    static constexpr int kLevels = 4;
    static constexpr int kMaxLeafLevel = 2; // 1 GiB pages in the PDPT

    static constexpr uint64_t kPresent = 1ULL << 0;
    static constexpr uint64_t kWritable = 1ULL << 1;
    static constexpr uint64_t kUser = 1ULL << 2;
    static constexpr uint64_t kWriteThrough = 1ULL << 3; // PWT
    static constexpr uint64_t kCacheDisable = 1ULL << 4; // PCD
    static constexpr uint64_t kAccessed = 1ULL << 5;
    static constexpr uint64_t kDirty = 1ULL << 6;
    static constexpr uint64_t kLargePage = 1ULL << 7; // PS in PD/PDPT entries
    static constexpr uint64_t kPat4k = 1ULL << 7;     // PAT bit of a PT entry
    static constexpr uint64_t kPatLarge = 1ULL << 12; // PAT bit of a 2 MiB / 1 GiB entry
    static constexpr uint64_t kNoExecute = 1ULL << 63;
    // Physical address bits 51:12 (MAXPHYADDR is at most 52).
    static constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000ULL;

    [[nodiscard]] static constexpr bool is_present(uint64_t entry) { return entry & kPresent; }
    [[nodiscard]] static constexpr bool is_leaf(uint64_t entry, int level) {
        return level == 0 || (level <= kMaxLeafLevel && (entry & kLargePage));
    }
    [[nodiscard]] static constexpr uint64_t address(uint64_t entry, int level) {
        // In a 2 MiB / 1 GiB leaf, bit 12 is the PAT bit, not part of the (aligned) base; in a
        // table entry it is an ordinary address bit.
        const bool large_leaf = level > 0 && is_leaf(entry, level);
        return entry & (large_leaf ? kAddressMask & ~kPatLarge : kAddressMask);
    }
    // Non-leaf entries grant everything; the leaf alone decides permissions. (NPT needs U=1 on
    // every level; the core's own tables get U=0 at the leaf.)
    [[nodiscard]] static constexpr uint64_t make_table(uint64_t physical) {
        return (physical & kAddressMask) | kPresent | kWritable | kUser;
    }
    [[nodiscard]] static constexpr uint64_t make_leaf(uint64_t physical, Attributes attributes,
                                                      int level) {
        uint64_t entry = (physical & kAddressMask) | kPresent;
        if (attributes.writable)
            entry |= kWritable;
        if (attributes.user)
            entry |= kUser;
        if (!attributes.executable)
            entry |= kNoExecute;
        const unsigned pat_index = pat_index_for(attributes.cache);
        if (pat_index & 1)
            entry |= kWriteThrough;
        if (pat_index & 2)
            entry |= kCacheDisable;
        if (pat_index & 4)
            entry |= level == 0 ? kPat4k : kPatLarge;
        if (level > 0)
            entry |= kLargePage;
        return entry;
    }
    [[nodiscard]] static constexpr Attributes attributes(uint64_t entry, int level) {
        unsigned pat_index = 0;
        if (entry & kWriteThrough)
            pat_index |= 1;
        if (entry & kCacheDisable)
            pat_index |= 2;
        if (entry & (level == 0 ? kPat4k : kPatLarge))
            pat_index |= 4;
        return Attributes{
            .writable = (entry & kWritable) != 0,
            .executable = (entry & kNoExecute) == 0,
            .user = (entry & kUser) != 0,
            .cache = cache_for_pat_index(pat_index),
        };
    }

    [[nodiscard]] static constexpr unsigned pat_index_for(CacheMode cache) {
        switch (cache) {
        case CacheMode::write_back:
            return 0;
        case CacheMode::write_through:
            return 1;
        case CacheMode::uncached_minus:
            return 2;
        case CacheMode::uncached:
            return 3;
        case CacheMode::write_combining:
            return 4;
        case CacheMode::write_protected:
            return 5;
        }
        return 3; // unreachable; uncached is the safe choice
    }
    [[nodiscard]] static constexpr CacheMode cache_for_pat_index(unsigned index) {
        constexpr CacheMode kByIndex[8] = {
            CacheMode::write_back,     CacheMode::write_through,   CacheMode::uncached_minus,
            CacheMode::uncached,       CacheMode::write_combining, CacheMode::write_protected,
            CacheMode::uncached_minus, CacheMode::uncached,
        };
        return kByIndex[index & 7];
    }
};

} // namespace halcyon::mm
