// Heap memory for the objects of the virtualization layer (partitions, vCPUs, VMs), with an
// out-of-memory result instead of the panic of the core's plain `new`: a VM that does not fit
// must fail to start, not bring the host down. Objects are constructed with placement new into
// this memory and released with ordinary `delete` (the same core heap).
#pragma once

#include "mm/heap_core.hpp"

#include <stddef.h>

namespace halcyon::vmm {

[[nodiscard]] inline void* allocate_object(size_t size, size_t alignment) {
    mm::Heap* heap = mm::core_heap();
    return heap != nullptr ? heap->allocate(size, alignment) : nullptr;
}

// For memory from allocate_object() that held no object (or whose object was destroyed).
inline void free_object(void* memory) {
    if (memory != nullptr && mm::core_heap() != nullptr)
        (void)mm::core_heap()->deallocate(memory);
}

} // namespace halcyon::vmm
