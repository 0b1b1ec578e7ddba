// The frames of one burst sorted by destination port. The forwarding stage appends each unicast
// frame to its destination's group; the egress stage then runs once per destination over that
// port's frames (its per-port checks and settings looked up once, not per frame), and every port
// still receives its frames in arrival order. Fixed capacity: one entry per frame of a burst.
#pragma once

#include "vswitch/core/port_set.hpp"
#include "vswitch/packet/burst.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

class EgressGroups {
public:
    [[nodiscard]] bool empty() const { return count_ == 0; }
    [[nodiscard]] bool full() const { return count_ == kMaxBurst; }

    // Appends `frame` to `port`'s group (the caller checks full() first).
    void add(PortId port, Frame* frame) {
        frames_[count_] = frame;
        ports_of_[count_] = static_cast<uint8_t>(port);
        ++count_;
        ports_.add(port);
    }

    // add() for a port that already has a group in this flush.
    void add_to_present(PortId port, Frame* frame) {
        frames_[count_] = frame;
        ports_of_[count_] = static_cast<uint8_t>(port);
        ++count_;
    }

    // Empties the groups, calling deliver(port, frames, count) once per port with frames, in
    // ascending port order, each group in the order its frames were added.
    template <typename Deliver>
    void flush(Deliver&& deliver) {
        const PortSet ports = ports_;
        const uint32_t count = count_;
        ports_ = {};
        count_ = 0;
        if (ports.single()) {
            deliver(PortSet(ports).pop(), frames_.data(), count);
            return;
        }
        // A stable counting sort by port: sizes, then each group's start, then placement.
        std::array<uint8_t, kMaxPorts> next;
        PortSet remaining = ports;
        while (!remaining.empty())
            next[remaining.pop()] = 0;
        for (uint32_t i = 0; i < count; ++i)
            ++next[ports_of_[i]];
        std::array<uint8_t, kMaxPorts> start;
        uint32_t offset = 0;
        remaining = ports;
        while (!remaining.empty()) {
            const PortId port = remaining.pop();
            start[port] = static_cast<uint8_t>(offset);
            offset += next[port];
            next[port] = start[port];
        }
        std::array<Frame*, kMaxBurst> sorted;
        for (uint32_t i = 0; i < count; ++i)
            sorted[next[ports_of_[i]]++] = frames_[i];
        remaining = ports;
        while (!remaining.empty()) {
            const PortId port = remaining.pop();
            deliver(port, sorted.data() + start[port], uint32_t{next[port]} - start[port]);
        }
    }

private:
    static_assert(kMaxBurst <= 255 && kMaxPorts <= 256);

    std::array<Frame*, kMaxBurst> frames_;
    std::array<uint8_t, kMaxBurst> ports_of_;
    PortSet ports_;
    uint32_t count_ = 0;
};

} // namespace halcyon::vswitch
