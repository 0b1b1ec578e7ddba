#include "vswitch/core/port_profile.hpp"

#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch {

PortSet reachable_ports(const PvlanRegistry& registry, std::span<const PortConfig* const> configs,
                        PortSet candidates, const Frame& frame) {
    PortSet reachable;
    while (!candidates.empty()) {
        const PortId id = candidates.pop();
        if (id < configs.size() && configs[id] != nullptr &&
            egress_allowed(registry, *configs[id], frame))
            reachable.add(id);
    }
    return reachable;
}

PortProfile make_port_profile(const PvlanRegistry& registry,
                              std::span<const PortConfig* const> configs, PortId port) {
    PortProfile profile;
    const PortConfig& config = *configs[port];
    profile.max_untagged_frame = config.mtu + kEthernetHeaderSize;
    Frame probe; // parsed headers all zero: no tags
    profile.untagged = classify_ingress(config, probe);
    probe.vlan_id = profile.untagged.vlan;
    probe.vsid = config.vsid;
    PortSet others;
    for (PortId id = 0; id < configs.size() && id < kMaxPorts; ++id)
        if (configs[id] != nullptr && id != port)
            others.add(id);
    profile.untagged_reach = reachable_ports(registry, configs, others, probe);
    profile.untagged_domain = frame_domain(registry, probe);
    profile.guarded = config.protection.any_guard();
    profile.storm_limited = config.storm.broadcast_pps != 0 || config.storm.multicast_pps != 0;
    profile.tags_on_egress = config.vsid == 0 && config.vlan.mode == VlanMode::trunk;
    profile.nvgre_role = config.kind == PortKind::external ? NvgreRole::provider
                         : config.vsid != 0                ? NvgreRole::customer
                                                           : NvgreRole::none;
    return profile;
}

} // namespace halcyon::vswitch
