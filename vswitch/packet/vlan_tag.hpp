// Inserting and removing an 802.1Q tag in place. Both move only the 12 address bytes, using the
// frame's headroom, so tagging on egress costs the same for a 64-byte and a 9000-byte frame.
#pragma once

#include "vswitch/packet/frame.hpp"

#include <stdint.h>

namespace halcyon::vswitch {

[[nodiscard]] constexpr uint16_t vlan_tci(uint16_t vlan_id, uint8_t priority) {
    return static_cast<uint16_t>((uint16_t{priority} << 13) | (vlan_id & 0x0FFF));
}
[[nodiscard]] constexpr uint16_t tci_vlan_id(uint16_t tci) {
    return tci & 0x0FFF;
}
[[nodiscard]] constexpr uint8_t tci_priority(uint16_t tci) {
    return static_cast<uint8_t>(tci >> 13);
}

// Removes the outermost tag. The parsed offsets are shifted to stay valid. False if untagged.
[[nodiscard]] bool strip_outer_vlan_tag(Frame& frame);
// Inserts an outer tag with `tpid` (0x8100 normally). False if headroom or length forbid it.
// Parsed offsets are shifted to stay valid.
[[nodiscard]] bool insert_vlan_tag(Frame& frame, uint16_t tci, uint16_t tpid = 0x8100);

} // namespace halcyon::vswitch
