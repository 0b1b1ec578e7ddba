// What the packet path needs to know about a port, worked out once when the switch's ports change
// instead of per frame: the frame size limit, how an untagged frame is classified, which ports an
// untagged frame from this port may reach, and which optional stages apply at all. A stage a port
// does not use then costs one branch per burst, not a check per frame.
#pragma once

#include "vswitch/core/mac_table.hpp"
#include "vswitch/core/port_config.hpp"
#include "vswitch/core/port_set.hpp"
#include "vswitch/core/vlan_policy.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

// Which NVGRE hook a frame received on the port goes through.
enum class NvgreRole : uint8_t {
    none,     // a VLAN port: no NVGRE processing
    provider, // the external port: NvgreHook::from_provider
    customer, // a port in a virtual subnet: NvgreHook::from_customer
};

struct PortProfile {
    // The largest untagged frame the port accepts or sends (MTU + Ethernet header); add
    // kVlanTagSize per tag present.
    uint32_t max_untagged_frame = 0;
    // classify_ingress() of a frame without tags: fixed per port, so untagged frames skip it.
    IngressClass untagged;
    // The ports (other than this one) that egress_allowed() admits a frame classified as
    // `untagged` with the port's VSID to, i.e. where an untagged frame from here may go.
    PortSet untagged_reach;
    // frame_domain() of such a frame: where its source is learned and its destination looked up.
    DomainId untagged_domain = 0;
    bool guarded = false;        // some protection guard is on
    bool storm_limited = false;  // a broadcast or multicast storm limit is set
    bool tags_on_egress = false; // a trunk outside any virtual subnet (egress_tagged() can hold)
    NvgreRole nvgre_role = NvgreRole::none;
};

// Builds the profile of `configs[port]` given every port's configuration (nullptr = absent) and
// the PVLAN registry derived from them.
[[nodiscard]] PortProfile make_port_profile(const PvlanRegistry& registry,
                                            std::span<const PortConfig* const> configs,
                                            PortId port);

// The ports a frame with `frame`'s VLAN and VSID may leave by, among `candidates`.
[[nodiscard]] PortSet reachable_ports(const PvlanRegistry& registry,
                                      std::span<const PortConfig* const> configs,
                                      PortSet candidates, const Frame& frame);

} // namespace halcyon::vswitch
