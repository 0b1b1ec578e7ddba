#include "drivers/net/virtqueue.hpp"

#include <string.h>

namespace halcyon::drivers {
namespace {

size_t align_up(size_t value, size_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}
size_t available_offset(uint16_t size) {
    return sizeof(VirtqDescriptor) * size;
}
size_t used_offset(uint16_t size) {
    return align_up(available_offset(size) + 6 + 2 * size_t(size), 4);
}
// The device sees ring updates only in order: descriptor before available entry before index.
// x86 does not reorder stores with stores, so a compiler barrier is enough on this side; loads
// of the used ring after its index need the same.
inline void ordering_barrier() {
    asm volatile("" ::: "memory");
}

} // namespace

size_t SplitVirtqueue::ring_bytes(uint16_t size) {
    return used_offset(size) + 6 + sizeof(VirtqUsedElement) * size_t(size);
}

ErrorOr<SplitVirtqueue> SplitVirtqueue::create(uint16_t size, uint8_t* ring,
                                               uint64_t ring_device_address) {
    if (size == 0 || (size & (size - 1)) != 0 || size > 32768)
        return Error(ErrorCode::invalid_argument, "virtqueue size must be a power of two");
    if (ring == nullptr || (ring_device_address & 15) != 0 ||
        (reinterpret_cast<uintptr_t>(ring) & 15) != 0)
        return Error(ErrorCode::invalid_argument, "virtqueue ring must be 16-byte aligned");
    SplitVirtqueue queue;
    queue.size_ = size;
    queue.descriptors_ = reinterpret_cast<VirtqDescriptor*>(ring);
    queue.avail_offset_ = available_offset(size);
    queue.used_offset_ = used_offset(size);
    queue.avail_ = reinterpret_cast<volatile uint16_t*>(ring + queue.avail_offset_);
    queue.used_ = ring + queue.used_offset_;
    queue.ring_address_ = ring_device_address;
    memset(ring, 0, ring_bytes(size));
    // Free list threaded through `next`.
    for (uint16_t i = 0; i < size; ++i)
        queue.descriptors_[i].next = static_cast<uint16_t>(i + 1);
    queue.free_head_ = 0;
    queue.free_count_ = size;
    return queue;
}

uint64_t SplitVirtqueue::available_ring_address() const {
    return ring_address_ + avail_offset_;
}

uint64_t SplitVirtqueue::used_ring_address() const {
    return ring_address_ + used_offset_;
}

ErrorOr<uint16_t> SplitVirtqueue::submit(uint64_t device_address, uint32_t length,
                                         bool device_writable) {
    if (free_count_ == 0)
        return Error(ErrorCode::busy, "virtqueue is full");
    const uint16_t index = free_head_;
    VirtqDescriptor& descriptor = descriptors_[index];
    free_head_ = descriptor.next;
    --free_count_;
    descriptor.address = device_address;
    descriptor.length = length;
    descriptor.flags = device_writable ? kDescriptorWrite : 0;
    descriptor.next = 0;
    avail_[2 + (avail_index_ & (size_ - 1))] = index;
    ordering_barrier();
    ++avail_index_;
    avail_[1] = avail_index_;
    return index;
}

std::optional<UsedBuffer> SplitVirtqueue::take_used() {
    const uint16_t device_index = *reinterpret_cast<volatile uint16_t*>(used_ + 2);
    if (device_index == last_used_index_)
        return std::nullopt;
    ordering_barrier();
    const size_t slot = last_used_index_ & (size_ - 1);
    volatile uint8_t* element = used_ + 4 + slot * sizeof(VirtqUsedElement);
    const uint32_t id = *reinterpret_cast<volatile uint32_t*>(element);
    const uint32_t length = *reinterpret_cast<volatile uint32_t*>(element + 4);
    ++last_used_index_;
    // A device returning an id we never gave out is broken; drop the entry rather than
    // corrupting the free list.
    if (id >= size_)
        return std::nullopt;
    descriptors_[id].next = free_head_;
    free_head_ = static_cast<uint16_t>(id);
    ++free_count_;
    return UsedBuffer{static_cast<uint16_t>(id), length};
}

bool SplitVirtqueue::device_wants_notification() const {
    asm volatile("mfence" ::: "memory");
    return (*reinterpret_cast<volatile uint16_t*>(used_) & 1) == 0;
}

} // namespace halcyon::drivers
