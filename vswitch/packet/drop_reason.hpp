// Why the switch dropped (or consumed) a frame. Every drop in the pipeline and in its components
// (ACL, QoS, NVGRE, extensions) names one of these, and every one is counted, so a missing packet
// can always be explained from the counters. The list is append-only: tools print the names and
// reports store them, so never renumber.
#pragma once

#include <array>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch {

enum class DropReason : uint8_t {
    // Frame integrity.
    malformed,          // headers truncated or inconsistent (parser rejected the frame)
    runt,               // shorter than an Ethernet header
    mtu_exceeded,       // larger than the port's MTU (ingress or egress)
    invalid_source_mac, // multicast/broadcast or all-zero source address
    // Port state.
    port_down,    // ingress or egress port disabled / not connected
    unknown_port, // frame names a port id that does not exist
    // VLANs.
    vlan_not_allowed, // tag not in the port's allowed list, or tagged frame on an access port
    vlan_tag_invalid, // VID 4095, or a stacked tag where none is accepted
    pvlan_isolation,  // private-VLAN mode forbids this source/destination pair
    // Protection.
    mac_spoof,
    arp_spoof,
    nd_spoof,
    dhcp_guard,
    router_guard,
    storm_limit,
    // Forwarding.
    no_destination,    // nothing eligible to deliver to (e.g. unicast to an isolated port)
    hairpin,           // destination is the ingress port
    egress_queue_full, // the destination port's output ring is full
    pool_exhausted,    // no frame available to copy a flooded/mirrored frame into
    // Extensions.
    extension_drop,            // a filtering extension dropped the frame
    forwarding_extension_drop, // the forwarding extension chose no destination
    // ACL (vswitch/acl/).
    acl_deny,
    acl_stateful_deny, // no matching flow and the stateful rule does not admit it
    acl_meter_exceeded,
    // QoS (vswitch/qos/).
    qos_drop,
    qos_rate_limited,
    qos_queue_full,
    // NVGRE (vswitch/nvgre/).
    nvgre_no_policy,    // CA/PA pair not in the lookup policy
    nvgre_bad_vsid,     // VSID not known, or not the sender's virtual subnet
    nvgre_malformed,    // GRE header not NVGRE (flags, protocol type, key) or inner frame broken
    nvgre_mtu_exceeded, // encapsulated frame would not fit the provider MTU
    nvgre_no_route,     // no virtual subnet of the routing domain holds the destination
    nvgre_ttl_expired,
    nvgre_not_provider_address, // outer destination IP is not one of this host's PAs
    nvgre_arp_answered,         // not an error: the ARP request was answered from policy (consumed)
    no_headroom, // the frame's buffer has no room for a header to be added (tag, encapsulation)
    // Spare reasons for components still to come; rename in place when used.
    reserved_2,
    reserved_3,
    reserved_4,
    count
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::count);

[[nodiscard]] const char* drop_reason_name(DropReason reason);

// One counter per reason.
struct DropCounters {
    std::array<uint64_t, kDropReasonCount> by_reason{};

    void add(DropReason reason) { ++by_reason[static_cast<size_t>(reason)]; }
    [[nodiscard]] uint64_t operator[](DropReason reason) const {
        return by_reason[static_cast<size_t>(reason)];
    }
    [[nodiscard]] uint64_t total() const {
        uint64_t sum = 0;
        for (uint64_t value : by_reason)
            sum += value;
        return sum;
    }
};

} // namespace halcyon::vswitch
