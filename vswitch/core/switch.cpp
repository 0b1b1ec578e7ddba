// Switch configuration: ports, validation, counters and output rings. The per-frame pipeline is
// in pipeline.cpp.
#include "vswitch/core/switch.hpp"

#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch {
namespace {

constexpr uint32_t kMinMtu = 68;          // IPv4's minimum
constexpr uint32_t kMaxMtu = 0xFFFF - 22; // frame (MTU + header + two tags) must fit 64 KiB
constexpr uint32_t kMaxVsid = 0xFFFFFF;
constexpr uint32_t kFirstVsid = 0x1000; // RFC 7637: VSIDs 0-0xFFF are reserved

} // namespace

Switch::Switch(SwitchType type, FramePool& pool, std::span<MacEntry> mac_storage,
               uint64_t mac_ageing_ns)
    : type_(type), pool_(pool), mac_table_(mac_storage, mac_ageing_ns) {}

ErrorOr<void> Switch::validate(PortId port, const PortConfig& config) {
    switch (type_) {
    case SwitchType::private_network:
        if (config.kind != PortKind::vm)
            return Error(ErrorCode::invalid_argument, "a private switch has only VM ports");
        break;
    case SwitchType::internal:
        if (config.kind == PortKind::external)
            return Error(ErrorCode::invalid_argument, "an internal switch has no external port");
        break;
    case SwitchType::external:
        if (config.kind == PortKind::external) {
            PortSet others = external_ports_;
            others.remove(port);
            if (!others.empty())
                return Error(ErrorCode::already_exists,
                             "an external switch is bound to exactly one physical port");
        }
        break;
    }
    if (config.mtu < kMinMtu || config.mtu > kMaxMtu)
        return Error(ErrorCode::out_of_range, "port MTU out of range");
    const VlanConfig& v = config.vlan;
    if (v.access_vlan > kMaxVlanId || v.native_vlan > kMaxVlanId || v.primary_vlan > kMaxVlanId ||
        v.secondary_vlan > kMaxVlanId || v.allowed_vlans.contains(4095))
        return Error(ErrorCode::out_of_range, "VLAN ids are 0..4094");
    if (v.mode == VlanMode::private_vlan && config.kind == PortKind::external)
        return Error(ErrorCode::invalid_argument,
                     "the external port carries PVLANs as a trunk, it is not a PVLAN member");
    if (config.vsid != 0) {
        if (config.vsid > kMaxVsid || config.vsid < kFirstVsid)
            return Error(ErrorCode::out_of_range, "VSID must be 0x1000..0xFFFFFF");
        if (config.kind == PortKind::external)
            return Error(ErrorCode::invalid_argument, "the external port has no VSID");
        if (v.mode != VlanMode::access || v.access_vlan != 0)
            return Error(ErrorCode::invalid_argument,
                         "a port in a virtual subnet must be an untagged access port");
    }
    const ProtectionConfig& p = config.protection;
    if (p.mac_count > kMaxPortMacs || p.ipv4_count > kMaxPortIpv4 || p.ipv6_count > kMaxPortIpv6)
        return Error(ErrorCode::out_of_range, "too many addresses for one port");
    for (uint32_t i = 0; i < p.mac_count; ++i)
        if (p.macs[i].is_multicast() || p.macs[i].is_zero())
            return Error(ErrorCode::invalid_argument, "a port MAC must be a unicast address");
    // The PVLAN roles must stay consistent across all ports with this one changed.
    std::array<const PortConfig*, kMaxPorts> configs = present_configs_;
    configs[port] = &config;
    PvlanRegistry candidate;
    TRY(candidate.rebuild(configs));
    return {};
}

void Switch::install(PortId id, const PortConfig& config, uint64_t now_ns) {
    Port& port = ports_[id];
    port.config = config;
    port.broadcast_storm =
        TokenBucket(config.storm.broadcast_pps, config.storm.broadcast_burst, now_ns);
    port.multicast_storm =
        TokenBucket(config.storm.multicast_pps, config.storm.multicast_burst, now_ns);
    // Addresses learned under the old VLAN settings must not keep attracting traffic.
    mac_table_.flush_port(id);
    if (config.kind == PortKind::external)
        external_ports_.add(id);
    else
        external_ports_.remove(id);
    rebuild_port_state();
}

// Everything derived from the set of ports and their settings: the PVLAN registry and every
// port's profile (a change to one port can change where the others' frames may go).
void Switch::rebuild_port_state() {
    for (PortId id = 0; id < kMaxPorts; ++id)
        present_configs_[id] = present_.contains(id) ? &ports_[id].config : nullptr;
    // validate() already proved this succeeds (and removing a port cannot make it fail).
    (void)pvlans_.rebuild(present_configs_).is_error();
    PortSet ports = present_;
    while (!ports.empty()) {
        const PortId id = ports.pop();
        ports_[id].profile = make_port_profile(pvlans_, present_configs_, id);
    }
}

ErrorOr<PortId> Switch::add_port(const PortConfig& config) {
    PortId id = 0;
    while (id < kMaxPorts && present_.contains(id))
        ++id;
    if (id == kMaxPorts)
        return Error(ErrorCode::out_of_memory, "switch has no free port");
    TRY(validate(id, config));
    ports_[id].counters = {};
    while (ports_[id].output.pop() != nullptr) {
    }
    present_.add(id);
    install(id, config, now_ns_);
    return id;
}

ErrorOr<void> Switch::configure_port(PortId port, const PortConfig& config) {
    if (!present_.contains(port))
        return Error(ErrorCode::not_found, "no such port");
    TRY(validate(port, config));
    install(port, config, now_ns_);
    return {};
}

ErrorOr<void> Switch::remove_port(PortId port) {
    if (!present_.contains(port))
        return Error(ErrorCode::not_found, "no such port");
    // Frames still queued for the port are dropped, not leaked.
    while (Frame* frame = ports_[port].output.pop())
        drop(frame, port, port, DropReason::port_down, now_ns_);
    present_.remove(port);
    external_ports_.remove(port);
    mac_table_.flush_port(port);
    rebuild_port_state();
    return {};
}

const PortConfig* Switch::port_config(PortId port) const {
    return present_.contains(port) ? &ports_[port].config : nullptr;
}

const PortCounters* Switch::counters(PortId port) const {
    return present_.contains(port) ? &ports_[port].counters : nullptr;
}

PortId Switch::lookup_mac(uint16_t vlan, const MacAddress& mac, uint64_t now_ns) const {
    Frame probe;
    probe.vlan_id = vlan;
    return mac_table_.lookup(frame_domain(pvlans_, probe), mac, now_ns);
}

uint32_t Switch::drain(PortId port, Burst& out) {
    if (!present_.contains(port))
        return 0;
    const uint32_t moved =
        ports_[port].output.pop_many(out.frames.data() + out.count, kMaxBurst - out.count);
    out.count += moved;
    return moved;
}

uint32_t Switch::pending(PortId port) const {
    return present_.contains(port) ? ports_[port].output.size() : 0;
}

} // namespace halcyon::vswitch
