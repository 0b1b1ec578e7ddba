// VLAN and private-VLAN rules: which VLAN a frame entering a port belongs to, which ports it may
// leave by, and whether it leaves tagged. The PVLAN registry records, for every VLAN id, whether
// it is a PVLAN primary or an isolated/community secondary (and of which primary), derived from
// all ports' settings so frames arriving tagged on a trunk are classified like the ports they
// came from.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/core/mac_table.hpp"
#include "vswitch/core/port_config.hpp"
#include "vswitch/packet/drop_reason.hpp"
#include "vswitch/packet/frame.hpp"

#include <array>
#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

enum class PvlanRole : uint8_t { none, primary, community, isolated };

struct PvlanVlanInfo {
    PvlanRole role = PvlanRole::none;
    uint16_t primary = 0;
};

class PvlanRegistry {
public:
    // Rebuilds from every configured port (nullptr entries are absent ports). Fails on
    // contradictions: a VLAN both primary and secondary, a secondary both isolated and community
    // or under two primaries, or an access port placed directly in a PVLAN VLAN.
    [[nodiscard]] ErrorOr<void> rebuild(std::span<const PortConfig* const> ports);
    [[nodiscard]] const PvlanVlanInfo& operator[](uint16_t vlan) const {
        return vlans_[vlan & 0x0FFF];
    }

private:
    std::array<PvlanVlanInfo, 4096> vlans_{};
};

struct IngressClass {
    bool accepted = false;
    DropReason reason = DropReason::vlan_not_allowed;
    uint16_t vlan = 0;
};

// Classifies a parsed frame arriving on a port. On acceptance the outer tag (if any) must be
// stripped by the caller and frame.vlan_id set to `vlan`.
[[nodiscard]] IngressClass classify_ingress(const PortConfig& port, const Frame& frame);

// The forwarding domain of a classified frame (VSID, PVLAN primary, or VLAN). Inline: it runs
// twice per frame (learning and lookup).
[[nodiscard]] inline DomainId frame_domain(const PvlanRegistry& registry, const Frame& frame) {
    if (frame.vsid != 0)
        return vsid_domain(frame.vsid);
    const PvlanVlanInfo& info = registry[frame.vlan_id];
    return vlan_domain(info.role == PvlanRole::none ? frame.vlan_id : info.primary);
}

// May a frame with this VLAN/VSID (classified at `source`) leave through `port`?
[[nodiscard]] bool egress_allowed(const PvlanRegistry& registry, const PortConfig& port,
                                  const Frame& frame);

// Whether the frame leaves `port` with an 802.1Q tag.
[[nodiscard]] inline bool egress_tagged(const PortConfig& port, const Frame& frame) {
    return port.vsid == 0 && port.vlan.mode == VlanMode::trunk &&
           frame.vlan_id != port.vlan.native_vlan;
}

} // namespace halcyon::vswitch
