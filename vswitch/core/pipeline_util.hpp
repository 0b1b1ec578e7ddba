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
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t unicast = 0;
    uint64_t multicast = 0;
    uint64_t broadcast = 0;

    void add(const Frame& frame) {
        ++packets;
        bytes += frame.length;
        if (frame.length < 6)
            return;
        const uint8_t* p = frame.data();
        if ((p[0] & 1) == 0)
            ++unicast;
        else if (MacAddress::from(p).is_broadcast())
            ++broadcast;
        else
            ++multicast;
    }
    void add_to(TrafficCounters& counters) const {
        counters.packets += packets;
        counters.bytes += bytes;
        counters.unicast += unicast;
        counters.multicast += multicast;
        counters.broadcast += broadcast;
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
