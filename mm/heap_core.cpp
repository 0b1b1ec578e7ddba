// The core's global heap and the C++ allocation operators on top of it (core world only; the
// host world keeps its own operator new).
//
// Plain `new` cannot fail in the core: running out of heap is fatal (panic), which is what makes
// it safe to use `new` without checking. `new (std::nothrow)` returns nullptr instead.
#include "mm/heap_core.hpp"

#include "vmm/core/panic.hpp"
#include <new>
#include <stddef.h>

// The freestanding worlds build with _LIBCPP_HAS_NO_LIBRARY_ALIGNED_ALLOCATION, so libc++'s <new>
// omits std::align_val_t; the compiler still calls the aligned operators for over-aligned types
// (C++17 aligned new), with this exact type, so the core has to define them itself.
#ifdef _LIBCPP_HAS_NO_LIBRARY_ALIGNED_ALLOCATION
namespace std {
enum class align_val_t : size_t {};
} // namespace std
#endif

namespace halcyon::mm {

namespace {

// Constructed in place by init_core_heap so the heap does not depend on global constructors
// having run.
alignas(Heap) unsigned char heap_storage[sizeof(Heap)];
Heap* global_heap = nullptr;

Heap& heap() {
    if (!global_heap)
        halcyon::panic("operator new before mm::init_core_heap");
    return *global_heap;
}

void* allocate_or_panic(size_t size, size_t alignment) {
    void* ptr = heap().allocate(size, alignment);
    if (!ptr)
        halcyon::panic(alignment > Heap::kMaxAlignment
                           ? "operator new: alignment above 4 KiB is not supported"
                           : "out of memory: the core heap is exhausted");
    return ptr;
}

void* allocate_or_null(size_t size, size_t alignment) {
    return global_heap ? global_heap->allocate(size, alignment) : nullptr;
}

void release(void* ptr) {
    if (!ptr)
        return;
    if (heap().deallocate(ptr).is_error())
        halcyon::panic("operator delete: double free or pointer not from the heap");
}

constexpr size_t kDefaultAlignment = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

} // namespace

void init_core_heap(FrameAllocator& frames, PhysicalWindow window) {
    if (global_heap)
        halcyon::panic("mm::init_core_heap called twice");
    global_heap = new (heap_storage) Heap(frames, window);
}

Heap* core_heap() {
    return global_heap;
}

} // namespace halcyon::mm

using halcyon::mm::allocate_or_null;
using halcyon::mm::allocate_or_panic;
using halcyon::mm::kDefaultAlignment;
using halcyon::mm::release;

void* operator new(size_t size) {
    return allocate_or_panic(size, kDefaultAlignment);
}
void* operator new[](size_t size) {
    return allocate_or_panic(size, kDefaultAlignment);
}
void* operator new(size_t size, std::align_val_t alignment) {
    return allocate_or_panic(size, static_cast<size_t>(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment) {
    return allocate_or_panic(size, static_cast<size_t>(alignment));
}
// The object `new (std::nothrow)` names; libc++ defines it in its library, which the core
// does not link.
namespace std {
const nothrow_t nothrow{};
} // namespace std

void* operator new(size_t size, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, kDefaultAlignment);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, kDefaultAlignment);
}
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, static_cast<size_t>(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
    return allocate_or_null(size, static_cast<size_t>(alignment));
}

void operator delete(void* ptr) noexcept {
    release(ptr);
}
void operator delete[](void* ptr) noexcept {
    release(ptr);
}
void operator delete(void* ptr, size_t) noexcept {
    release(ptr);
}
void operator delete[](void* ptr, size_t) noexcept {
    release(ptr);
}
void operator delete(void* ptr, std::align_val_t) noexcept {
    release(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept {
    release(ptr);
}
void operator delete(void* ptr, size_t, std::align_val_t) noexcept {
    release(ptr);
}
void operator delete[](void* ptr, size_t, std::align_val_t) noexcept {
    release(ptr);
}
void operator delete(void* ptr, const std::nothrow_t&) noexcept {
    release(ptr);
}
void operator delete[](void* ptr, const std::nothrow_t&) noexcept {
    release(ptr);
}
void operator delete(void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
    release(ptr);
}
void operator delete[](void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
    release(ptr);
}
