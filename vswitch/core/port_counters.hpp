// Per-port traffic counters, in the port's view: rx = frames the port sent into the switch, tx =
// frames the switch delivered to the port. Drops are attributed to the port where they happened
// (the ingress port for ingress checks, the destination port for egress checks).
#pragma once

#include "vswitch/packet/drop_reason.hpp"

#include <stdint.h>

namespace halcyon::vswitch {

struct TrafficCounters {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t unicast = 0;
    uint64_t multicast = 0;
    uint64_t broadcast = 0;
};

struct PortCounters {
    TrafficCounters rx;
    TrafficCounters tx;
    DropCounters drops;
};

} // namespace halcyon::vswitch
