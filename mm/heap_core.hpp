// The core's global heap, behind operator new/delete (core world only, see heap_core.cpp).
#pragma once

#include "mm/frame_allocator.hpp"
#include "mm/heap.hpp"
#include "mm/physical_window.hpp"

namespace halcyon::mm {

// Sets up the global heap; call once, before the first `new`, after the frame allocator exists.
// `frames` must outlive the heap (i.e. live forever).
void init_core_heap(FrameAllocator& frames, PhysicalWindow window);
// The global heap (nullptr before init_core_heap), for statistics.
[[nodiscard]] Heap* core_heap();

} // namespace halcyon::mm
