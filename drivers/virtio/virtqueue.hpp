// A virtio split virtqueue (virtio 1.1, 2.6), driver side: single buffers (virtio-net) and
// descriptor chains (virtio-blk's header, data, status), no indirect descriptors, no event
// index. Pure: it works on the ring memory it is given, so host tests play the device by
// reading the available ring and writing the used ring.
//
// Layout in one DmaRegion: descriptor table (16 * size, 16-byte aligned), available ring
// (6 + 2 * size, 2-byte aligned), then, 4-byte aligned, the used ring (6 + 8 * size).
#pragma once

#include "lib/base/error_or.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers {

inline constexpr uint16_t kDescriptorNext = 1;
inline constexpr uint16_t kDescriptorWrite = 2; // device writes the buffer (receive)

struct VirtqDescriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VirtqDescriptor) == 16);

struct VirtqUsedElement {
    uint32_t id;
    uint32_t length;
};
static_assert(sizeof(VirtqUsedElement) == 8);

struct UsedBuffer {
    uint16_t descriptor; // the head of the chain
    uint32_t length;     // bytes the device wrote (receive) or 0 (transmit)
};

// One buffer of a chain.
struct BufferSegment {
    uint64_t device_address;
    uint32_t length;
    bool device_writable;
};

class SplitVirtqueue {
public:
    // Bytes of ring memory a queue of `size` entries needs.
    [[nodiscard]] static size_t ring_bytes(uint16_t size);

    // `size` is a power of two (1..32768). `ring` is zeroed memory of ring_bytes(size) bytes
    // at virtual `ring` and device address `ring_device_address` (16-byte aligned).
    [[nodiscard]] static ErrorOr<SplitVirtqueue> create(uint16_t size, uint8_t* ring,
                                                        uint64_t ring_device_address);
    SplitVirtqueue() = default;

    [[nodiscard]] uint16_t size() const { return size_; }
    [[nodiscard]] uint16_t free_descriptors() const { return free_count_; }
    // Addresses the device is told (queue_desc / queue_driver / queue_device).
    [[nodiscard]] uint64_t descriptor_table_address() const { return ring_address_; }
    [[nodiscard]] uint64_t available_ring_address() const;
    [[nodiscard]] uint64_t used_ring_address() const;

    // Hands one buffer to the device; returns its descriptor index (the caller's handle to
    // find its buffer when it comes back). busy when every descriptor is in flight.
    [[nodiscard]] ErrorOr<uint16_t> submit(uint64_t device_address, uint32_t length,
                                           bool device_writable);
    // Hands a chain of buffers to the device as one request; returns the head descriptor. The
    // device-readable segments must come before the device-writable ones (2.6.4.2).
    [[nodiscard]] ErrorOr<uint16_t> submit_chain(std::span<const BufferSegment> segments);
    // The next buffer (or chain) the device is done with, if any; its descriptors are free again.
    [[nodiscard]] std::optional<UsedBuffer> take_used();

    // Whether the device asked not to be notified (VIRTQ_USED_F_NO_NOTIFY); a hint only.
    [[nodiscard]] bool device_wants_notification() const;

private:
    uint16_t size_ = 0;
    uint16_t free_head_ = 0;
    uint16_t free_count_ = 0;
    uint16_t avail_index_ = 0;     // next index we publish (free-running, wraps at 2^16)
    uint16_t last_used_index_ = 0; // next used entry we consume
    VirtqDescriptor* descriptors_ = nullptr;
    volatile uint16_t* avail_ = nullptr; // flags, idx, ring[size], used_event
    volatile uint8_t* used_ = nullptr;   // flags, idx, ring[size] of VirtqUsedElement, avail_event
    uint64_t ring_address_ = 0;
    size_t avail_offset_ = 0;
    size_t used_offset_ = 0;
};

} // namespace halcyon::drivers
