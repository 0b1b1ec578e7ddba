// The two rings of an open channel, seen from the host, over guest pages named by the channel's
// ring GPADL. Layout (Linux include/linux/hyperv.h, struct hv_ring_buffer): a 4 KiB control
// page {write_index, read_index, interrupt_mask, pending_send_sz, ..., feature_bits at 64}, then
// the data area; packets are 8-byte aligned {descriptor, payload, u64 trailer}.
//
// The guest owns these pages and may rewrite them at any time, so: every index read from the
// ring is validated against the data size before use; the host's own indices (its read index of
// the inbound ring, its write index of the outbound ring) are kept privately and only written
// out, never read back; a packet is copied out whole and parsed from the copy; every access goes
// through GuestMemory page by page at offsets below the ring size, so nothing outside the
// GPADL's pages is ever touched. A violation is an Error (ErrorCode::corrupt): the host closes
// that channel.
//
// Signalling follows what Linux 6.1 expects of Hyper-V:
//  - outbound: after publishing write_index, signal iff the guest's interrupt_mask is clear and
//    the ring was empty before this write (read_index == old write_index) - hv_signal_on_write;
//    when the ring lacks space, the host sets pending_send_sz and the guest signals once it
//    has freed that much (hv_pkt_iter_close).
//  - inbound: the host masks interrupts while it drains, unmasks and re-checks when empty; after
//    publishing read_index it signals the guest iff the guest asked (pending_send_sz) for space
//    that was missing before and is free now.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/channel_device.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

// One direction's pages: page 0 is the control page, pages 1.. the data area (any guest pages,
// not necessarily contiguous).
class RingPages {
public:
    RingPages() = default;
    explicit RingPages(std::span<const uint64_t> pfns) : pfns_(pfns) {}

    [[nodiscard]] uint32_t data_size() const;
    [[nodiscard]] ErrorOr<uint32_t> load(GuestMemory& memory, uint32_t control_offset) const;
    [[nodiscard]] ErrorOr<void> store(GuestMemory& memory, uint32_t control_offset,
                                      uint32_t value) const;
    // Data-area copies starting at `offset` (< data_size), wrapping at the end of the area.
    [[nodiscard]] ErrorOr<void> read(GuestMemory& memory, uint32_t offset,
                                     std::span<uint8_t> out) const;
    [[nodiscard]] ErrorOr<void> write(GuestMemory& memory, uint32_t offset,
                                      std::span<const uint8_t> data) const;

private:
    std::span<const uint64_t> pfns_;
};

// Free bytes of a ring as Linux counts them (hv_get_bytes_to_write): a writer needs strictly
// more than its packet, so a full ring is never mistaken for an empty one.
[[nodiscard]] uint32_t ring_free_bytes(uint32_t data_size, uint32_t write_index,
                                       uint32_t read_index);

// The guest->host ring: the host reads.
class InboundRing {
public:
    [[nodiscard]] ErrorOr<void> attach(RingPages pages, GuestMemory& memory);
    [[nodiscard]] uint32_t data_size() const { return pages_.data_size(); }

    // Copies the next packet (descriptor through payload, without the trailer) into `out`;
    // returns its length in bytes, 0 when the ring is empty.
    [[nodiscard]] ErrorOr<uint32_t> peek(GuestMemory& memory, std::span<uint64_t> out);
    // Consumes the packet peek() returned (privately: commit() publishes).
    void advance(uint32_t packet_bytes);
    // Publishes the read index; true if the guest must be signalled that the space it waits for
    // (pending_send_sz) is now free.
    [[nodiscard]] ErrorOr<bool> commit(GuestMemory& memory);
    [[nodiscard]] ErrorOr<void> set_interrupt_mask(GuestMemory& memory, bool masked);
    // After unmasking: whether the guest wrote more meanwhile (full barrier first).
    [[nodiscard]] ErrorOr<bool> has_data(GuestMemory& memory);

private:
    [[nodiscard]] ErrorOr<uint32_t> load_write_index(GuestMemory& memory) const;

    RingPages pages_;
    uint32_t read_ = 0;      // next packet, private
    uint32_t committed_ = 0; // last value published as read_index
};

// The host->guest ring: the host writes.
class OutboundRing {
public:
    [[nodiscard]] ErrorOr<void> attach(RingPages pages, GuestMemory& memory);
    [[nodiscard]] uint32_t data_size() const { return pages_.data_size(); }

    // Bytes a packet with `payload_bytes` of payload takes in the ring (with its trailer).
    [[nodiscard]] static uint64_t packet_bytes(uint64_t payload_bytes);
    [[nodiscard]] ErrorOr<uint32_t> free_bytes(GuestMemory& memory) const;
    // Writes one packet; ErrorCode::busy if it does not fit now. Returns whether the guest must
    // be signalled.
    [[nodiscard]] ErrorOr<bool> write(GuestMemory& memory, uint16_t type, uint16_t flags,
                                      uint64_t transaction_id, std::span<const uint8_t> payload);
    // Asks the guest to signal once more than `bytes` are free; true if they already are (then
    // nothing stays requested).
    [[nodiscard]] ErrorOr<bool> request_space(GuestMemory& memory, uint32_t bytes);
    [[nodiscard]] ErrorOr<void> clear_request(GuestMemory& memory);

private:
    [[nodiscard]] ErrorOr<uint32_t> load_read_index(GuestMemory& memory) const;

    RingPages pages_;
    uint32_t write_ = 0; // private
};

} // namespace halcyon::vmm::vmbus
