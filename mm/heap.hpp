// The general-purpose kernel heap: size-classed slabs for small objects, whole pages for large
// ones, all memory from the FrameAllocator reached through a PhysicalWindow.
//
// Every allocation lives in a 16 KiB-aligned block whose first bytes are a header: a slab of
// one size class, or a large allocation (header page + the pages returned to the caller). So
// deallocate() finds the header by masking the pointer, and can check it: the header carries a
// magic that includes its own address, slabs keep an allocation bitmap (double frees and
// pointers into the middle of an object are caught), large blocks record their exact pointer.
//
// Thread safety: all methods take an internal spinlock (same rules as mm/spinlock.hpp).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "mm/physical_window.hpp"
#include "mm/spinlock.hpp"
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mm {

struct HeapStats {
    size_t bytes_in_use = 0; // sum of the rounded sizes of live allocations
    size_t live_allocations = 0;
    size_t slab_pages = 0;        // pages held for small objects (incl. cached empty slabs)
    size_t large_pages = 0;       // pages held by large allocations (incl. their header pages)
    size_t total_allocations = 0; // successful allocate() calls ever
    size_t failed_allocations = 0;
    size_t rejected_frees = 0; // double frees and foreign pointers caught
};

class Heap {
public:
    static constexpr size_t kBlockSize = 16 * 1024; // slab size and large-block alignment
    static constexpr size_t kMaxAlignment = 4096;
    static constexpr size_t kClassCount = 8; // 16, 32, ..., 2048 bytes
    static constexpr size_t kSmallestClass = 16;
    static constexpr size_t kLargestClass = 2048;

    // `window.offset()` must be a multiple of kBlockSize (true for the direct map) so that a
    // block's physical alignment is also its virtual alignment. `frames` must outlive the heap.
    Heap(FrameAllocator& frames, PhysicalWindow window) : frames_(&frames), window_(window) {}
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;
    ~Heap() = default; // memory still held stays with the heap's frames; see release_cached()

    // nullptr when memory is exhausted, size is 0 is treated as 1; alignment must be a power of
    // two up to kMaxAlignment (nullptr otherwise).
    [[nodiscard]] void* allocate(size_t size, size_t alignment = 16);
    // Frees ptr (nullptr is ignored). Fails without change for foreign pointers
    // (invalid_argument) and double frees (corrupt).
    [[nodiscard]] ErrorOr<void> deallocate(void* ptr);
    // Usable size of a live allocation (0 if ptr is not one).
    [[nodiscard]] size_t allocation_size(const void* ptr);
    // Gives cached empty slabs back to the frame allocator.
    void release_cached();

    [[nodiscard]] HeapStats stats();

private:
    struct Block;
    [[nodiscard]] void* allocate_small(size_t class_index);
    [[nodiscard]] void* allocate_large(size_t size);
    [[nodiscard]] Block* block_of(const void* ptr) const;
    [[nodiscard]] bool block_is_ours(const Block* block) const;
    [[nodiscard]] Block* new_slab(size_t class_index);
    void free_block(Block* block, size_t pages);
    void unlink(Block* block);
    void push(Block*& list, Block* block);

    SpinLock lock_;
    FrameAllocator* frames_;
    PhysicalWindow window_;
    Block* partial_[kClassCount] = {}; // slabs with at least one free object
    Block* cached_empty_[kClassCount] = {};
    HeapStats stats_;
};

} // namespace halcyon::mm
