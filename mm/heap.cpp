#include "mm/heap.hpp"

namespace halcyon::mm {

namespace {

constexpr uint64_t kSlabMagic = 0x5348'4142'4C41'4853ULL;  // arbitrary, mixed with the address
constexpr uint64_t kLargeMagic = 0x4C41'5247'4542'4C4BULL; // ditto
constexpr size_t kBlockPages = Heap::kBlockSize / kPageSize;
constexpr size_t kMaxObjectsPerSlab = Heap::kBlockSize / Heap::kSmallestClass;

struct FreeObject {
    FreeObject* next;
};

constexpr size_t round_up(size_t value, size_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

// Index of the smallest class that holds `size` bytes aligned to `alignment`, or kClassCount.
size_t class_for(size_t size, size_t alignment) {
    size_t needed = size > alignment ? size : alignment;
    size_t index = 0;
    for (size_t class_size = Heap::kSmallestClass; class_size <= Heap::kLargestClass;
         class_size *= 2, ++index) {
        if (needed <= class_size)
            return index;
    }
    return Heap::kClassCount;
}

size_t class_size(size_t index) {
    return Heap::kSmallestClass << index;
}

} // namespace

// The header at the start of every 16 KiB-aligned heap block.
struct Heap::Block {
    uint64_t magic; // kSlabMagic or kLargeMagic, XORed with the block's own address
    bool large;
    uint32_t class_index;
    uint32_t object_size;
    uint32_t first_offset; // of object 0, a multiple of object_size (so objects are aligned)
    uint32_t capacity;
    uint32_t free_count;
    size_t pages; // frames held by this block
    Block* next;  // in partial_[class] (slabs with free objects)
    Block* prev;
    FreeObject* free_list;
    uint64_t allocated[kMaxObjectsPerSlab / 64]; // bit per object: live
};

void Heap::push(Block*& list, Block* block) {
    block->prev = nullptr;
    block->next = list;
    if (list)
        list->prev = block;
    list = block;
}

void Heap::unlink(Block* block) {
    if (block->prev)
        block->prev->next = block->next;
    else if (partial_[block->class_index] == block)
        partial_[block->class_index] = block->next;
    if (block->next)
        block->next->prev = block->prev;
    block->next = block->prev = nullptr;
}

Heap::Block* Heap::new_slab(size_t class_index) {
    static_assert(sizeof(FreeObject) <= Heap::kSmallestClass);
    static_assert((Heap::kBlockSize - round_up(sizeof(Heap::Block), Heap::kSmallestClass)) /
                      Heap::kSmallestClass <=
                  kMaxObjectsPerSlab);
    static_assert(sizeof(Heap::Block) <= kPageSize, "large blocks keep the header in one page");
    auto physical = frames_->allocate(kBlockPages, kBlockPages);
    if (physical.is_error())
        return nullptr;
    auto* block = window_.to_virtual<Block>(physical.value());
    const size_t size = class_size(class_index);
    block->magic = kSlabMagic ^ reinterpret_cast<uintptr_t>(block);
    block->large = false;
    block->class_index = static_cast<uint32_t>(class_index);
    block->object_size = static_cast<uint32_t>(size);
    block->first_offset = static_cast<uint32_t>(round_up(sizeof(Block), size));
    block->capacity = static_cast<uint32_t>((kBlockSize - block->first_offset) / size);
    block->free_count = block->capacity;
    block->pages = kBlockPages;
    block->next = block->prev = nullptr;
    for (auto& word : block->allocated)
        word = 0;
    // Thread the free list through the objects, lowest address first.
    auto* bytes = reinterpret_cast<uint8_t*>(block);
    FreeObject* head = nullptr;
    for (uint32_t i = block->capacity; i-- > 0;) {
        auto* object = reinterpret_cast<FreeObject*>(bytes + block->first_offset + i * size);
        object->next = head;
        head = object;
    }
    block->free_list = head;
    stats_.slab_pages += kBlockPages;
    return block;
}

void Heap::free_block(Block* block, size_t pages) {
    block->magic = 0; // a stale pointer into it is no longer recognised as ours
    const uint64_t physical = window_.to_physical(block);
    (void)frames_->free(physical, pages); // cannot fail: the heap allocated these frames
}

void* Heap::allocate_small(size_t class_index) {
    Block* block = partial_[class_index];
    if (!block) {
        block = cached_empty_[class_index];
        if (block)
            cached_empty_[class_index] = nullptr;
        else
            block = new_slab(class_index);
        if (!block)
            return nullptr;
        push(partial_[class_index], block);
    }
    FreeObject* object = block->free_list;
    block->free_list = object->next;
    const size_t index = (reinterpret_cast<uint8_t*>(object) - reinterpret_cast<uint8_t*>(block) -
                          block->first_offset) /
                         block->object_size;
    block->allocated[index / 64] |= 1ULL << (index % 64);
    if (--block->free_count == 0)
        unlink(block);
    stats_.bytes_in_use += block->object_size;
    return object;
}

void* Heap::allocate_large(size_t size) {
    if (size > (SIZE_MAX - 2 * kPageSize))
        return nullptr;
    const size_t pages = 1 + round_up(size, kPageSize) / kPageSize; // + the header page
    auto physical = frames_->allocate(pages, kBlockPages);
    if (physical.is_error())
        return nullptr;
    auto* block = window_.to_virtual<Block>(physical.value());
    block->magic = kLargeMagic ^ reinterpret_cast<uintptr_t>(block);
    block->large = true;
    block->pages = pages;
    block->next = block->prev = nullptr;
    stats_.large_pages += pages;
    stats_.bytes_in_use += (pages - 1) * kPageSize;
    return reinterpret_cast<uint8_t*>(block) + kPageSize;
}

void* Heap::allocate(size_t size, size_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment)
        return nullptr;
    if (size == 0)
        size = 1;
    SpinLockGuard guard(lock_);
    const size_t index = class_for(size, alignment);
    void* result = index < kClassCount ? allocate_small(index) : allocate_large(size);
    if (result) {
        ++stats_.live_allocations;
        ++stats_.total_allocations;
    } else {
        ++stats_.failed_allocations;
    }
    return result;
}

Heap::Block* Heap::block_of(const void* ptr) const {
    return reinterpret_cast<Block*>(reinterpret_cast<uintptr_t>(ptr) &
                                    ~(uintptr_t(kBlockSize) - 1));
}

// Cheap plausibility checks before trusting a header: the block's frame must be one the frame
// allocator handed out (so reading it is safe) and carry our magic for its own address.
bool Heap::block_is_ours(const Block* block) const {
    if (!frames_->is_allocated(window_.to_physical(block)))
        return false;
    const auto address = reinterpret_cast<uintptr_t>(block);
    return block->magic == (kSlabMagic ^ address) || block->magic == (kLargeMagic ^ address);
}

ErrorOr<void> Heap::deallocate(void* ptr) {
    if (!ptr)
        return {};
    SpinLockGuard guard(lock_);
    Block* block = block_of(ptr);
    if (!block_is_ours(block)) {
        ++stats_.rejected_frees;
        return Error(ErrorCode::invalid_argument, "heap: pointer is not a live heap allocation");
    }
    auto* bytes = reinterpret_cast<uint8_t*>(block);
    const size_t offset = static_cast<uint8_t*>(ptr) - bytes;
    if (block->large) {
        if (offset != kPageSize) {
            ++stats_.rejected_frees;
            return Error(ErrorCode::invalid_argument, "heap: pointer into a large allocation");
        }
        stats_.large_pages -= block->pages;
        stats_.bytes_in_use -= (block->pages - 1) * kPageSize;
        --stats_.live_allocations;
        free_block(block, block->pages);
        return {};
    }
    if (offset < block->first_offset || (offset - block->first_offset) % block->object_size != 0) {
        ++stats_.rejected_frees;
        return Error(ErrorCode::invalid_argument, "heap: pointer into the middle of an object");
    }
    const size_t index = (offset - block->first_offset) / block->object_size;
    const uint64_t bit = 1ULL << (index % 64);
    if (index >= block->capacity || !(block->allocated[index / 64] & bit)) {
        ++stats_.rejected_frees;
        return Error(ErrorCode::corrupt, "heap: double free");
    }
    block->allocated[index / 64] &= ~bit;
    auto* object = static_cast<FreeObject*>(ptr);
    object->next = block->free_list;
    block->free_list = object;
    stats_.bytes_in_use -= block->object_size;
    --stats_.live_allocations;
    if (block->free_count++ == 0)
        push(partial_[block->class_index], block);
    if (block->free_count == block->capacity) {
        // Keep one empty slab per class so alloc/free ping-pong does not hit the frame allocator.
        unlink(block);
        if (!cached_empty_[block->class_index]) {
            cached_empty_[block->class_index] = block;
        } else {
            stats_.slab_pages -= block->pages;
            free_block(block, block->pages);
        }
    }
    return {};
}

size_t Heap::allocation_size(const void* ptr) {
    if (!ptr)
        return 0;
    SpinLockGuard guard(lock_);
    Block* block = block_of(ptr);
    if (!block_is_ours(block))
        return 0;
    const size_t offset = static_cast<const uint8_t*>(ptr) - reinterpret_cast<uint8_t*>(block);
    if (block->large)
        return offset == kPageSize ? (block->pages - 1) * kPageSize : 0;
    if (offset < block->first_offset || (offset - block->first_offset) % block->object_size != 0)
        return 0;
    const size_t index = (offset - block->first_offset) / block->object_size;
    if (index >= block->capacity || !(block->allocated[index / 64] & (1ULL << (index % 64))))
        return 0;
    return block->object_size;
}

void Heap::release_cached() {
    SpinLockGuard guard(lock_);
    for (auto& block : cached_empty_) {
        if (block) {
            stats_.slab_pages -= block->pages;
            free_block(block, block->pages);
            block = nullptr;
        }
    }
}

HeapStats Heap::stats() {
    SpinLockGuard guard(lock_);
    return stats_;
}

} // namespace halcyon::mm
