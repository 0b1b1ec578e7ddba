// Format-independent description of a mapping: what the page table walker works with. Each
// entry format (x86 long mode / AMD NPT, Intel EPT) translates these to and from its bits.
#pragma once

#include <stdint.h>

namespace halcyon::mm {

// Memory types. For x86 page tables they are selected through the PAT (see X86PageFormat and
// kX86PatMsrValue); write_back/write_through/uncached_minus/uncached also work with the
// power-on PAT.
enum class CacheMode : uint8_t {
    write_back,
    write_through,
    uncached_minus, // UC-: uncached, but an MTRR write-combining range may override it
    uncached,
    write_combining,
    write_protected,
};

struct Attributes {
    bool writable = false;
    bool executable = false;
    bool user = false; // x86: user-mode accessible. NPT requires it on every guest mapping.
    CacheMode cache = CacheMode::write_back;

    friend bool operator==(const Attributes&, const Attributes&) = default;
};

// Convenience constructors for the common combinations.
inline constexpr Attributes kReadOnly{false, false, false, CacheMode::write_back};
inline constexpr Attributes kReadWrite{true, false, false, CacheMode::write_back};
inline constexpr Attributes kReadExecute{false, true, false, CacheMode::write_back};

enum class PageSize : uint64_t {
    size_4k = 1ULL << 12,
    size_2m = 1ULL << 21,
    size_1g = 1ULL << 30,
};

[[nodiscard]] constexpr uint64_t bytes(PageSize size) {
    return static_cast<uint64_t>(size);
}

// Which large page sizes a page table may use: 2 MiB pages exist on every x86-64 CPU (and in
// NPT/EPT); 1 GiB pages need CPUID.80000001h:EDX.Page1GB (or the EPT capability bit).
struct LargePages {
    bool size_2m = true;
    bool size_1g = false;
};

// What lookup() reports for one virtual address.
struct Translation {
    uint64_t physical;  // the physical address the queried virtual address translates to
    uint64_t page_base; // physical base of the page that maps it
    Attributes attributes;
    PageSize page_size;
};

} // namespace halcyon::mm
