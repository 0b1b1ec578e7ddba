// The Memory and Allocator policies PageTable needs, for tables that live in memory owned by the
// FrameAllocator and reached through a PhysicalWindow (the direct map in the core, a buffer in
// host tests).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/page_table.hpp"
#include "mm/physical_window.hpp"
#include "mm/x86_page_format.hpp"
#include <string.h>

namespace halcyon::mm {

class WindowTableMemory {
public:
    explicit WindowTableMemory(PhysicalWindow window) : window_(window) {}
    [[nodiscard]] uint64_t* table_at(uint64_t physical) const {
        return window_.to_virtual<uint64_t>(physical);
    }

private:
    PhysicalWindow window_;
};

class FrameTableAllocator {
public:
    FrameTableAllocator(FrameAllocator& frames, PhysicalWindow window)
        : frames_(&frames), window_(window) {}

    [[nodiscard]] ErrorOr<uint64_t> allocate_table() {
        const uint64_t physical = TRY(frames_->allocate(1));
        memset(window_.to_virtual(physical), 0, kPageSize);
        return physical;
    }
    void free_table(uint64_t physical) {
        // A table we allocated is always a managed, allocated frame; a failure here means the
        // page table is corrupt, and there is nothing better to do than keep the page.
        (void)frames_->free(physical, 1);
    }

private:
    FrameAllocator* frames_;
    PhysicalWindow window_;
};

// The page table type of the core's own address space (and of AMD NPT, which uses the same
// format).
using X86PageTable = PageTable<X86PageFormat, WindowTableMemory, FrameTableAllocator>;

} // namespace halcyon::mm
