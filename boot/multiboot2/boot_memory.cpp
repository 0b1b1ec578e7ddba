#include "boot/multiboot2/boot_memory.hpp"

namespace halcyon::multiboot2 {

namespace {

[[nodiscard]] uint64_t round_down(uint64_t value, uint64_t alignment) {
    return value & ~(alignment - 1);
}

// Rounds up, saturating at the top page instead of wrapping to 0.
[[nodiscard]] uint64_t round_up(uint64_t value, uint64_t alignment) {
    uint64_t rounded = round_down(value, alignment);
    if (rounded == value)
        return value;
    return rounded + alignment < rounded ? round_down(~0ull, alignment) : rounded + alignment;
}

[[nodiscard]] uint64_t end_of(uint64_t base, uint64_t length) {
    return length > ~0ull - base ? ~0ull : base + length;
}

} // namespace

ErrorOr<void> BootMemory::insert_free(size_t index, PhysicalRange range) {
    if (free_count_ == kMaxFreeRanges)
        return Error(ErrorCode::out_of_range, "memory map has too many free ranges");
    for (size_t i = free_count_; i > index; --i)
        free_[i] = free_[i - 1];
    free_[index] = range;
    ++free_count_;
    return {};
}

void BootMemory::remove_free(size_t index) {
    for (size_t i = index; i + 1 < free_count_; ++i)
        free_[i] = free_[i + 1];
    --free_count_;
}

ErrorOr<void> BootMemory::add_available(uint64_t base, uint64_t length) {
    PhysicalRange range{round_up(base, kPageSize), round_down(end_of(base, length), kPageSize)};
    if (range.base >= range.end)
        return {};
    // Keep the list sorted and disjoint: absorb every range this one touches, then insert.
    size_t index = 0;
    while (index < free_count_ && free_[index].end < range.base)
        ++index;
    while (index < free_count_ && free_[index].base <= range.end) {
        range.base = free_[index].base < range.base ? free_[index].base : range.base;
        range.end = free_[index].end > range.end ? free_[index].end : range.end;
        remove_free(index);
    }
    return insert_free(index, range);
}

ErrorOr<void> BootMemory::reserve(uint64_t base, uint64_t end) {
    return take(round_down(base, kPageSize), round_up(end, kPageSize));
}

ErrorOr<void> BootMemory::take(uint64_t base, uint64_t end) {
    if (base >= end)
        return {};
    for (size_t i = 0; i < free_count_;) {
        PhysicalRange& range = free_[i];
        if (range.end <= base || range.base >= end) {
            ++i;
            continue;
        }
        PhysicalRange below{range.base, base};
        PhysicalRange above{end, range.end};
        remove_free(i);
        if (below.base < below.end) {
            TRY(insert_free(i, below));
            ++i;
        }
        if (above.base < above.end) {
            TRY(insert_free(i, above));
            ++i;
        }
    }
    return {};
}

ErrorOr<uint64_t> BootMemory::allocate(uint64_t size, uint64_t alignment, uint64_t above,
                                       uint64_t below, handoff::MemoryType type,
                                       uint32_t efi_type) {
    if (alignment < kPageSize || (alignment & (alignment - 1)) != 0)
        return Error(ErrorCode::invalid_argument, "allocation alignment is not a power of two");
    if (size == 0 || size > ~0ull - kPageSize)
        return Error(ErrorCode::invalid_argument, "allocation size is invalid");
    size = round_up(size, kPageSize);
    bool found = false;
    uint64_t best = 0;
    for (size_t i = 0; i < free_count_; ++i) {
        uint64_t top = free_[i].end < below ? free_[i].end : below;
        uint64_t bottom = free_[i].base > above ? free_[i].base : above;
        if (top < size || top - size < bottom)
            continue;
        uint64_t candidate = round_down(top - size, alignment);
        if (candidate < bottom)
            continue;
        if (!found || candidate > best) {
            best = candidate;
            found = true;
        }
    }
    if (!found)
        return Error(ErrorCode::out_of_memory, "no free memory for a boot allocation");
    TRY(take(best, best + size));
    TRY(claim(best, size, type, efi_type));
    return best;
}

ErrorOr<void> BootMemory::claim(uint64_t base, uint64_t size, handoff::MemoryType type,
                                uint32_t efi_type) {
    if (base % kPageSize != 0 || size % kPageSize != 0 || size == 0 || size > ~0ull - base)
        return Error(ErrorCode::invalid_argument, "claimed memory is not whole pages");
    // Allocations come top-down, so a new one usually sits right below the previous one of
    // the same kind: extend that claim instead of using another slot.
    if (claim_count_ > 0) {
        Claim& last = claims_[claim_count_ - 1];
        if (last.type == type && last.efi_type == efi_type) {
            if (base + size == last.base) {
                last.base = base;
                last.size += size;
                return {};
            }
            if (last.base + last.size == base) {
                last.size += size;
                return {};
            }
        }
    }
    if (claim_count_ == kMaxClaims)
        return Error(ErrorCode::out_of_range, "too many boot allocations");
    claims_[claim_count_++] = Claim{base, size, type, efi_type};
    return {};
}

} // namespace halcyon::multiboot2
