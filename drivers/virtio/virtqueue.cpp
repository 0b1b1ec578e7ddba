#include "drivers/virtio/virtqueue.hpp"

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
    const BufferSegment segment{device_address, length, device_writable};
    return submit_chain(std::span<const BufferSegment>(&segment, 1));
}

ErrorOr<uint16_t> SplitVirtqueue::submit_chain(std::span<const BufferSegment> segments) {
    if (segments.empty())
        return Error(ErrorCode::invalid_argument, "empty virtqueue chain");
    for (size_t i = 1; i < segments.size(); ++i) {
        if (segments[i - 1].device_writable && !segments[i].device_writable)
            return Error(ErrorCode::invalid_argument,
                         "device-readable buffers must precede device-writable ones");
    }
    if (segments.size() > free_count_)
        return Error(ErrorCode::busy, "virtqueue is full");
    const uint16_t head = free_head_;
    uint16_t index = head;
    for (size_t i = 0; i < segments.size(); ++i) {
        VirtqDescriptor& descriptor = descriptors_[index];
        const uint16_t next_free = descriptor.next;
        const bool last = i + 1 == segments.size();
        descriptor.address = segments[i].device_address;
        descriptor.length = segments[i].length;
        descriptor.flags = static_cast<uint16_t>(
            (segments[i].device_writable ? kDescriptorWrite : 0) | (last ? 0 : kDescriptorNext));
        // The free list is threaded through `next`, so the chain links are the free list's own
        // order: descriptor.next already names the following free descriptor.
        descriptor.next = last ? 0 : next_free;
        free_head_ = next_free;
        index = next_free;
    }
    free_count_ = static_cast<uint16_t>(free_count_ - segments.size());
    avail_[2 + (avail_index_ & (size_ - 1))] = head;
    ordering_barrier();
    ++avail_index_;
    avail_[1] = avail_index_;
    return head;
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
    // Return the whole chain: follow NEXT from the head (bounded by the queue size, so a
    // corrupted table cannot loop), then splice it onto the free list.
    uint16_t tail = static_cast<uint16_t>(id);
    uint16_t count = 1;
    while ((descriptors_[tail].flags & kDescriptorNext) != 0 && descriptors_[tail].next < size_ &&
           count < size_) {
        tail = descriptors_[tail].next;
        ++count;
    }
    descriptors_[tail].next = free_head_;
    free_head_ = static_cast<uint16_t>(id);
    free_count_ = static_cast<uint16_t>(free_count_ + count);
    return UsedBuffer{static_cast<uint16_t>(id), length};
}

bool SplitVirtqueue::device_wants_notification() const {
    asm volatile("mfence" ::: "memory");
    return (*reinterpret_cast<volatile uint16_t*>(used_) & 1) == 0;
}

} // namespace halcyon::drivers
