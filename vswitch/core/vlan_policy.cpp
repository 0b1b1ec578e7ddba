#include "vswitch/core/vlan_policy.hpp"

#include "vswitch/packet/protocols.hpp"
#include "vswitch/packet/vlan_tag.hpp"

namespace halcyon::vswitch {
namespace {

bool valid_vlan(uint16_t vlan) {
    return vlan >= 1 && vlan <= kMaxVlanId;
}

ErrorOr<void> register_vlan(std::array<PvlanVlanInfo, 4096>& vlans, uint16_t vlan, PvlanRole role,
                            uint16_t primary) {
    if (!valid_vlan(vlan))
        return Error(ErrorCode::invalid_argument, "PVLAN ids must be 1..4094");
    PvlanVlanInfo& info = vlans[vlan];
    if (info.role == PvlanRole::none) {
        info = {role, primary};
        return {};
    }
    if (info.role != role || info.primary != primary)
        return Error(ErrorCode::invalid_argument,
                     "a PVLAN VLAN id is used with two different roles or primaries");
    return {};
}

} // namespace

ErrorOr<void> PvlanRegistry::rebuild(std::span<const PortConfig* const> ports) {
    std::array<PvlanVlanInfo, 4096> vlans{};
    for (const PortConfig* port : ports) {
        if (port == nullptr || port->vlan.mode != VlanMode::private_vlan)
            continue;
        const VlanConfig& v = port->vlan;
        TRY(register_vlan(vlans, v.primary_vlan, PvlanRole::primary, v.primary_vlan));
        if (v.pvlan_mode == PvlanMode::promiscuous) {
            for (uint32_t id = 1; id <= kMaxVlanId; ++id) {
                if (!v.promiscuous_secondaries.contains(static_cast<uint16_t>(id)))
                    continue;
                // A promiscuous port's list does not say which mode a secondary has; require
                // that some isolated/community port defines it (checked below).
                if (id == v.primary_vlan)
                    return Error(ErrorCode::invalid_argument,
                                 "a secondary PVLAN id equals its primary");
            }
            continue;
        }
        if (v.secondary_vlan == v.primary_vlan)
            return Error(ErrorCode::invalid_argument, "a secondary PVLAN id equals its primary");
        PvlanRole role =
            v.pvlan_mode == PvlanMode::isolated ? PvlanRole::isolated : PvlanRole::community;
        TRY(register_vlan(vlans, v.secondary_vlan, role, v.primary_vlan));
    }
    for (const PortConfig* port : ports) {
        if (port == nullptr)
            continue;
        if (port->vlan.mode == VlanMode::access && port->vlan.access_vlan != 0 &&
            vlans[port->vlan.access_vlan & 0x0FFF].role != PvlanRole::none)
            return Error(ErrorCode::invalid_argument,
                         "an access port cannot sit in a PVLAN VLAN; use private_vlan mode");
        if (port->vlan.mode == VlanMode::private_vlan &&
            port->vlan.pvlan_mode == PvlanMode::promiscuous) {
            for (uint32_t id = 1; id <= kMaxVlanId; ++id) {
                if (!port->vlan.promiscuous_secondaries.contains(static_cast<uint16_t>(id)))
                    continue;
                const PvlanVlanInfo& info = vlans[id];
                // A secondary listed only by the promiscuous port is not used by anyone yet;
                // register it as isolated (the safe default: its members can talk only to
                // promiscuous ports) unless it belongs to another primary.
                if (info.role == PvlanRole::none) {
                    vlans[id] = {PvlanRole::isolated, port->vlan.primary_vlan};
                } else if (info.role == PvlanRole::primary ||
                           info.primary != port->vlan.primary_vlan) {
                    return Error(ErrorCode::invalid_argument,
                                 "a promiscuous port lists a VLAN of another primary");
                }
            }
        }
    }
    vlans_ = vlans;
    return {};
}

IngressClass classify_ingress(const PortConfig& port, const Frame& frame) {
    const ParsedHeaders& h = frame.headers;
    // 802.1Q priority tags (VID 0) carry only a PCP: the frame is untagged for VLAN purposes.
    bool tagged = h.tag_count > 0 && tci_vlan_id(h.outer_tci) != 0;
    // Stacked tags are never accepted: after stripping the outer one, the inner tag would be
    // delivered to a port of another VLAN (the classic double-tagging VLAN hop).
    if (h.tag_count > 1)
        return {false, DropReason::vlan_tag_invalid, 0};
    if (tagged && tci_vlan_id(h.outer_tci) == 0x0FFF)
        return {false, DropReason::vlan_tag_invalid, 0};
    if (port.vsid != 0)
        return tagged ? IngressClass{false, DropReason::vlan_not_allowed, 0}
                      : IngressClass{true, DropReason::vlan_not_allowed, 0};
    const VlanConfig& v = port.vlan;
    switch (v.mode) {
    case VlanMode::access:
        if (tagged)
            return {false, DropReason::vlan_not_allowed, 0};
        return {true, DropReason::vlan_not_allowed, v.access_vlan};
    case VlanMode::trunk: {
        if (!tagged)
            return {true, DropReason::vlan_not_allowed, v.native_vlan};
        uint16_t vlan = tci_vlan_id(h.outer_tci);
        if (vlan != v.native_vlan && !v.allowed_vlans.contains(vlan))
            return {false, DropReason::vlan_not_allowed, 0};
        return {true, DropReason::vlan_not_allowed, vlan};
    }
    case VlanMode::private_vlan:
        if (tagged)
            return {false, DropReason::vlan_not_allowed, 0};
        return {true, DropReason::vlan_not_allowed,
                v.pvlan_mode == PvlanMode::promiscuous ? v.primary_vlan : v.secondary_vlan};
    }
    return {false, DropReason::vlan_not_allowed, 0};
}

bool egress_allowed(const PvlanRegistry& registry, const PortConfig& port, const Frame& frame) {
    // Virtual subnets are sealed: VSID frames reach only ports of that VSID, and never the
    // external port (there they must leave encapsulated, which is the NVGRE hook's job).
    if (frame.vsid != 0 || port.vsid != 0)
        return frame.vsid == port.vsid && port.kind != PortKind::external;
    uint16_t vlan = frame.vlan_id;
    const VlanConfig& v = port.vlan;
    switch (v.mode) {
    case VlanMode::access:
        return vlan == v.access_vlan;
    case VlanMode::trunk:
        return vlan == v.native_vlan || v.allowed_vlans.contains(vlan);
    case VlanMode::private_vlan:
        break;
    }
    const PvlanVlanInfo& info = registry[vlan];
    if (info.role == PvlanRole::none || info.primary != v.primary_vlan)
        return false;
    switch (v.pvlan_mode) {
    case PvlanMode::promiscuous:
        // Talks to everything under its primary that it lists (and the primary itself).
        return info.role == PvlanRole::primary || v.promiscuous_secondaries.contains(vlan);
    case PvlanMode::community:
        return info.role == PvlanRole::primary ||
               (info.role == PvlanRole::community && vlan == v.secondary_vlan);
    case PvlanMode::isolated:
        return info.role == PvlanRole::primary;
    }
    return false;
}

} // namespace halcyon::vswitch
