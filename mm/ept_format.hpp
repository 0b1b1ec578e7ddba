// Entry encoding of Intel EPT (extended page tables, SDM vol. 3C "EPT Translation Mechanism"),
// for the same PageTable walker as X86PageFormat: 4 levels, 2 MiB and 1 GiB leaves.
//
// Differences from long-mode paging that matter here:
//   - "present" means any of read/write/execute; a present leaf is always readable here
//     (Attributes cannot express execute-only pages).
//   - there is no user/supervisor bit: Attributes::user is ignored and reads back as false.
//   - the memory type is stored in the leaf itself (bits 5:3) instead of going through the PAT;
//     "ignore PAT" stays clear, so the guest's own PAT still combines with it as on bare metal.
//     UC- has no EPT encoding and becomes UC.
#pragma once

#include "mm/page_attributes.hpp"
#include <stdint.h>

namespace halcyon::mm {

struct EptFormat {
    static constexpr int kLevels = 4;
    static constexpr int kMaxLeafLevel = 2;

    static constexpr uint64_t kRead = 1ULL << 0;
    static constexpr uint64_t kWrite = 1ULL << 1;
    static constexpr uint64_t kExecute = 1ULL << 2;
    static constexpr uint64_t kMemoryTypeShift = 3;
    static constexpr uint64_t kMemoryTypeMask = 7ULL << kMemoryTypeShift;
    static constexpr uint64_t kIgnorePat = 1ULL << 6;
    static constexpr uint64_t kLargePage = 1ULL << 7;
    static constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000ULL;

    // EPT memory type encodings.
    static constexpr uint64_t kTypeUncached = 0;
    static constexpr uint64_t kTypeWriteCombining = 1;
    static constexpr uint64_t kTypeWriteThrough = 4;
    static constexpr uint64_t kTypeWriteProtected = 5;
    static constexpr uint64_t kTypeWriteBack = 6;

    [[nodiscard]] static constexpr bool is_present(uint64_t entry) {
        return (entry & (kRead | kWrite | kExecute)) != 0;
    }
    [[nodiscard]] static constexpr bool is_leaf(uint64_t entry, int level) {
        return level == 0 || (level <= kMaxLeafLevel && (entry & kLargePage));
    }
    [[nodiscard]] static constexpr uint64_t address(uint64_t entry, int level) {
        return entry & kAddressMask; // bits below a large page's alignment are reserved (zero)
    }
    [[nodiscard]] static constexpr uint64_t make_table(uint64_t physical) {
        return (physical & kAddressMask) | kRead | kWrite | kExecute;
    }
    [[nodiscard]] static constexpr uint64_t make_leaf(uint64_t physical, Attributes attributes,
                                                      int level) {
        uint64_t entry = (physical & kAddressMask) | kRead;
        if (attributes.writable)
            entry |= kWrite;
        if (attributes.executable)
            entry |= kExecute;
        entry |= memory_type_for(attributes.cache) << kMemoryTypeShift;
        if (level > 0)
            entry |= kLargePage;
        return entry;
    }
    [[nodiscard]] static constexpr Attributes attributes(uint64_t entry, int level) {
        return Attributes{
            .writable = (entry & kWrite) != 0,
            .executable = (entry & kExecute) != 0,
            .user = false,
            .cache = cache_for_memory_type((entry & kMemoryTypeMask) >> kMemoryTypeShift),
        };
    }

    [[nodiscard]] static constexpr uint64_t memory_type_for(CacheMode cache) {
        switch (cache) {
        case CacheMode::write_back:
            return kTypeWriteBack;
        case CacheMode::write_through:
            return kTypeWriteThrough;
        case CacheMode::write_combining:
            return kTypeWriteCombining;
        case CacheMode::write_protected:
            return kTypeWriteProtected;
        case CacheMode::uncached_minus:
        case CacheMode::uncached:
            return kTypeUncached;
        }
        return kTypeUncached;
    }
    [[nodiscard]] static constexpr CacheMode cache_for_memory_type(uint64_t type) {
        switch (type) {
        case kTypeWriteBack:
            return CacheMode::write_back;
        case kTypeWriteThrough:
            return CacheMode::write_through;
        case kTypeWriteCombining:
            return CacheMode::write_combining;
        case kTypeWriteProtected:
            return CacheMode::write_protected;
        default:
            return CacheMode::uncached;
        }
    }
};

} // namespace halcyon::mm
