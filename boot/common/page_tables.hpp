// The page tables the core starts on (4-level paging):
//   - physical memory [0, limit) identity mapped, RWX, 2 MiB pages: the loader's jump stub
//     runs from it for the few instructions after CR3 is loaded;
//   - the same memory again at handoff::kDirectMapBase, RW + NX, with 1 GiB pages when the CPU
//     has them (fewer tables, fewer TLB misses), else 2 MiB pages;
//   - the core image at its link address, 4 KiB pages with each segment's permissions
//     (read-only unless writable, NX unless executable).
// Pure code (the allocator is passed in), unit tested on the host.
#pragma once

#include "lib/base/error_or.hpp"
#include "lib/elf/elf_image.hpp"

#include <stdint.h>

namespace halcyon::loader {

struct PageTableOptions {
    uint64_t physical_limit; // multiple of 1 GiB
    bool use_1gib_pages;
    uint64_t core_physical_base; // where kCoreVirtualBase maps to
};

// Where the tables' pages come from: zeroed 4 KiB pages, addressed by physical address, which
// the builder also dereferences (the loader runs identity mapped; the host tests hand out
// ordinary heap pages).
class PageTableAllocator {
public:
    [[nodiscard]] virtual ErrorOr<uint64_t> allocate_table() = 0;

protected:
    ~PageTableAllocator() = default;
};

// Returns the physical address of the PML4.
[[nodiscard]] ErrorOr<uint64_t> build_page_tables(const PageTableOptions& options,
                                                  const elf::Image& core_elf,
                                                  PageTableAllocator& allocator);

} // namespace halcyon::loader
