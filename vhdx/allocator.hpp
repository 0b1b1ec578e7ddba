// Memory for the library's buffers (BAT cache, log entries, metadata). The library never calls
// operator new or malloc: the caller injects an Allocator (the hypervisor's heap, a host malloc
// wrapper, a test allocator that fails on purpose).
#pragma once

#include <stddef.h>

namespace halcyon::vhdx {

class Allocator {
public:
    virtual ~Allocator() = default;
    // Returns size bytes aligned to align (a power of two), or nullptr when out of memory.
    [[nodiscard]] virtual void* allocate(size_t size, size_t align) = 0;
    // Releases memory from allocate() with the same size and align.
    virtual void deallocate(void* pointer, size_t size, size_t align) = 0;
};

} // namespace halcyon::vhdx
