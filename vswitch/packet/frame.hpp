// The frame model every part of the switch works on. A Frame is a view of a buffer owned by a
// FramePool: the packet bytes live at buffer[offset, offset + length), with `offset` bytes of
// headroom in front so encapsulation (NVGRE's outer headers, a VLAN tag) is a pointer move, not a
// copy. Beside the bytes it carries the switch's out-of-band metadata (ingress port, VLAN, VSID),
// the way the seeds' extensible switch passes VSID and port info out of band.
#pragma once

#include "vswitch/packet/headers.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

class FramePool;

using PortId = uint16_t;
inline constexpr PortId kNoPort = 0xFFFF;

struct Frame {
    // Storage (set by the pool; never changed by the pipeline).
    uint8_t* buffer = nullptr;
    uint32_t capacity = 0;
    // Packet bytes.
    uint32_t offset = 0;
    uint32_t length = 0;

    // Out-of-band metadata.
    PortId ingress_port = kNoPort;
    uint16_t vlan_id = 0; // VLAN the frame belongs to inside the switch (tags are stripped)
    uint8_t priority = 0; // 802.1p PCP from the tag, re-emitted on tagged egress
    uint32_t vsid = 0;    // NVGRE virtual subnet (0 = not virtualized)
    uint32_t flow_id = 0; // NVGRE flow id / hash for ECMP, set by whoever knows it
    uint64_t timestamp_ns = 0;

    ParsedHeaders headers;

    // Pool bookkeeping: the owning pool (frames go back with pool->release(frame)) and an
    // intrusive free-list link.
    FramePool* pool = nullptr;
    Frame* pool_next = nullptr;

    [[nodiscard]] uint8_t* data() { return buffer + offset; }
    [[nodiscard]] const uint8_t* data() const { return buffer + offset; }
    [[nodiscard]] std::span<uint8_t> bytes() { return {data(), length}; }
    [[nodiscard]] std::span<const uint8_t> bytes() const { return {data(), length}; }
    [[nodiscard]] uint32_t headroom() const { return offset; }
    [[nodiscard]] uint32_t tailroom() const { return capacity - offset - length; }

    // Grows the frame at the front by `count` bytes (for a new outer header). False, and nothing
    // changed, if the headroom is too small. Parsed offsets become stale: re-parse afterwards.
    [[nodiscard]] bool push_front(uint32_t count) {
        if (count > offset)
            return false;
        offset -= count;
        length += count;
        return true;
    }
    // Removes `count` bytes from the front (decapsulation).
    [[nodiscard]] bool pull_front(uint32_t count) {
        if (count > length)
            return false;
        offset += count;
        length -= count;
        return true;
    }
    [[nodiscard]] bool set_length(uint32_t new_length) {
        if (new_length > capacity - offset)
            return false;
        length = new_length;
        return true;
    }
    // Resets everything but the storage, ready for a new packet with `headroom` bytes in front.
    void reset(uint32_t headroom) {
        offset = headroom <= capacity ? headroom : capacity;
        length = 0;
        ingress_port = kNoPort;
        vlan_id = 0;
        priority = 0;
        vsid = 0;
        flow_id = 0;
        timestamp_ns = 0;
        headers = {};
    }
};

} // namespace halcyon::vswitch
