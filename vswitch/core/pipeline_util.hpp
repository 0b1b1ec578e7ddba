// Small helpers shared by the pipeline stages (pipeline_*.cpp); not part of the switch's API.
#pragma once

#include "vswitch/core/port_counters.hpp"
#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

#include <stdint.h>
#include <string.h>

namespace halcyon::vswitch::pipeline {

// Traffic counters for a run of frames, kept in registers and added to the port's counters once.
struct TrafficTally {
    // What the counters tell apart: too short to have a destination, unicast, multicast,
    // broadcast.
    enum Kind : uint32_t { kShort, kUnicast, kMulticast, kBroadcast };

    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t by_kind[4] = {};

    [[nodiscard]] static Kind kind_of(const Frame& frame) {
        if (frame.length < 6)
            return kShort;
        const uint8_t* p = frame.data();
        if ((p[0] & 1) == 0)
            return kUnicast;
        return MacAddress::from(p).is_broadcast() ? kBroadcast : kMulticast;
    }
    void count(Kind kind, uint32_t length) {
        ++packets;
        bytes += length;
        ++by_kind[kind];
    }
    void add(const Frame& frame) { count(kind_of(frame), frame.length); }
    void add_to(TrafficCounters& counters) const {
        counters.packets += packets;
        counters.bytes += bytes;
        counters.unicast += by_kind[kUnicast];
        counters.multicast += by_kind[kMulticast];
        counters.broadcast += by_kind[kBroadcast];
    }
};

// A minimum-size frame that lost its tag is 4 bytes short of Ethernet's 60: pad it, as a
// hardware switch does, so the receiver does not see a runt.
inline void pad_to_minimum(Frame& frame) {
    if (frame.length >= kEthernetMinFrame || frame.tailroom() < kEthernetMinFrame - frame.length)
        return;
    memset(frame.data() + frame.length, 0, kEthernetMinFrame - frame.length);
    frame.length = kEthernetMinFrame;
}

} // namespace halcyon::vswitch::pipeline
