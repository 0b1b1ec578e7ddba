// Physical frame (4 KiB page) allocator built from the loader's memory map.
//
// Bookkeeping is two bitmaps over the page frames between the lowest and the highest usable
// address: `managed` (the page belongs to the allocator at all) and `allocated`. Keeping the
// two apart is what lets free() tell a double free from an attempt to free reserved memory.
// The bitmaps are either carved out of the first usable region that can hold them (the core:
// those pages are then never handed out) or placed in storage the caller provides (tests).
//
// Only `usable` regions are ever handed out, and never anything below 1 MiB: AP trampolines,
// the BIOS data area and legacy ROMs live there, and frame 0 doubles as a null pointer.
//
// Thread safety: every public method takes an internal spinlock, so one allocator can be
// shared by all CPUs. It must not be called from an interrupt handler that can interrupt a
// holder of the lock on the same CPU (see mm/spinlock.hpp).
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/physical_window.hpp"
#include "mm/spinlock.hpp"
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mm {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageShift = 12;
// Below this the allocator never hands out memory (real-mode/BIOS area, AP trampolines).
inline constexpr uint64_t kLowMemoryLimit = 1ULL << 20;

// Where the allocator keeps its bitmaps.
struct MetadataPlacement {
    // Carve the bitmaps out of usable memory and reach them through `window`.
    [[nodiscard]] static MetadataPlacement carve(PhysicalWindow window) {
        return MetadataPlacement{window, {}};
    }
    // Use caller-provided storage (must hold FrameAllocator::metadata_words(map) words).
    [[nodiscard]] static MetadataPlacement external(std::span<uint64_t> storage) {
        return MetadataPlacement{PhysicalWindow(0), storage};
    }

    PhysicalWindow window;
    std::span<uint64_t> storage; // empty: carve
};

class FrameAllocator {
public:
    // Builds the allocator from a sorted or unsorted map of non-overlapping regions.
    // Fails with out_of_memory if no usable memory above 1 MiB exists or the bitmaps do not fit.
    [[nodiscard]] static ErrorOr<FrameAllocator> create(std::span<const handoff::MemoryRegion> map,
                                                        MetadataPlacement placement);
    // How many 64-bit words of bitmap storage create() needs for `map`.
    [[nodiscard]] static size_t metadata_words(std::span<const handoff::MemoryRegion> map);

    FrameAllocator(FrameAllocator&& other);
    FrameAllocator(const FrameAllocator&) = delete;
    FrameAllocator& operator=(const FrameAllocator&) = delete;
    FrameAllocator& operator=(FrameAllocator&&) = delete;

    // Allocates `pages` physically contiguous frames whose first frame is aligned to
    // `alignment_pages` frames (a power of two). Returns the physical address. The memory is
    // NOT zeroed (the allocator may not have it mapped).
    [[nodiscard]] ErrorOr<uint64_t> allocate(size_t pages = 1, size_t alignment_pages = 1);
    // Returns frames. Fails (and frees nothing) with invalid_argument for a misaligned address,
    // permission if any page is not managed memory (reserved, below 1 MiB, the allocator's own
    // bitmaps) and corrupt if any page is already free (double free).
    [[nodiscard]] ErrorOr<void> free(uint64_t physical, size_t pages = 1);
    // Marks specific free frames as allocated (e.g. memory the core must own at a fixed place).
    // Fails without change if any page is unmanaged (permission) or already taken (busy).
    [[nodiscard]] ErrorOr<void> reserve(uint64_t physical, size_t pages);

    [[nodiscard]] size_t free_pages() const;
    [[nodiscard]] size_t total_pages() const; // managed pages, allocated or not
    [[nodiscard]] bool is_allocated(uint64_t physical) const;
    [[nodiscard]] bool is_managed(uint64_t physical) const;
    // Physical range of the carved bitmaps (size 0 when the storage was external).
    [[nodiscard]] uint64_t metadata_physical() const { return metadata_physical_; }
    [[nodiscard]] uint64_t metadata_bytes() const { return metadata_bytes_; }

private:
    FrameAllocator(uint64_t* managed, uint64_t* allocated, uint64_t first_frame,
                   uint64_t frame_count);

    [[nodiscard]] bool test(const uint64_t* bitmap, uint64_t index) const;
    [[nodiscard]] bool is_available(uint64_t index) const;
    [[nodiscard]] ErrorOr<uint64_t> find_run(uint64_t start, uint64_t end, size_t pages,
                                             size_t alignment_pages) const;
    void mark_range(uint64_t first_index, size_t pages, bool allocated);

    mutable SpinLock lock_;
    uint64_t* managed_;    // bit set: this frame belongs to the allocator
    uint64_t* allocated_;  // bit set: this frame is handed out
    uint64_t first_frame_; // frame number of bit 0
    uint64_t frame_count_; // bits in each bitmap
    size_t total_pages_ = 0;
    size_t free_pages_ = 0;
    uint64_t next_fit_ = 0; // where single-page searches start (bit index)
    uint64_t metadata_physical_ = 0;
    uint64_t metadata_bytes_ = 0;
};

} // namespace halcyon::mm
