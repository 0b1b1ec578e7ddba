#include "vswitch/packet/drop_reason.hpp"

namespace halcyon::vswitch {

const char* drop_reason_name(DropReason reason) {
    switch (reason) {
    case DropReason::malformed:
        return "malformed";
    case DropReason::runt:
        return "runt";
    case DropReason::mtu_exceeded:
        return "mtu_exceeded";
    case DropReason::invalid_source_mac:
        return "invalid_source_mac";
    case DropReason::port_down:
        return "port_down";
    case DropReason::unknown_port:
        return "unknown_port";
    case DropReason::vlan_not_allowed:
        return "vlan_not_allowed";
    case DropReason::vlan_tag_invalid:
        return "vlan_tag_invalid";
    case DropReason::pvlan_isolation:
        return "pvlan_isolation";
    case DropReason::mac_spoof:
        return "mac_spoof";
    case DropReason::arp_spoof:
        return "arp_spoof";
    case DropReason::nd_spoof:
        return "nd_spoof";
    case DropReason::dhcp_guard:
        return "dhcp_guard";
    case DropReason::router_guard:
        return "router_guard";
    case DropReason::storm_limit:
        return "storm_limit";
    case DropReason::no_destination:
        return "no_destination";
    case DropReason::hairpin:
        return "hairpin";
    case DropReason::egress_queue_full:
        return "egress_queue_full";
    case DropReason::pool_exhausted:
        return "pool_exhausted";
    case DropReason::extension_drop:
        return "extension_drop";
    case DropReason::forwarding_extension_drop:
        return "forwarding_extension_drop";
    case DropReason::acl_deny:
        return "acl_deny";
    case DropReason::acl_stateful_deny:
        return "acl_stateful_deny";
    case DropReason::acl_meter_exceeded:
        return "acl_meter_exceeded";
    case DropReason::qos_drop:
        return "qos_drop";
    case DropReason::qos_rate_limited:
        return "qos_rate_limited";
    case DropReason::qos_queue_full:
        return "qos_queue_full";
    case DropReason::nvgre_no_policy:
        return "nvgre_no_policy";
    case DropReason::nvgre_bad_vsid:
        return "nvgre_bad_vsid";
    case DropReason::nvgre_malformed:
        return "nvgre_malformed";
    case DropReason::nvgre_mtu_exceeded:
        return "nvgre_mtu_exceeded";
    case DropReason::nvgre_no_route:
        return "nvgre_no_route";
    case DropReason::nvgre_ttl_expired:
        return "nvgre_ttl_expired";
    case DropReason::nvgre_not_provider_address:
        return "nvgre_not_provider_address";
    case DropReason::nvgre_arp_answered:
        return "nvgre_arp_answered";
    case DropReason::no_headroom:
        return "no_headroom";
    case DropReason::reserved_2:
        return "reserved_2";
    case DropReason::reserved_3:
        return "reserved_3";
    case DropReason::reserved_4:
        return "reserved_4";
    case DropReason::count:
        break;
    }
    return "unknown";
}

} // namespace halcyon::vswitch
