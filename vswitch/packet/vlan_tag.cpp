#include "vswitch/packet/vlan_tag.hpp"

#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/protocols.hpp"

#include <string.h>

namespace halcyon::vswitch {
namespace {

void shift_offsets(ParsedHeaders& h, int delta) {
    auto shift = [delta](uint16_t& value) {
        if (value != 0)
            value = static_cast<uint16_t>(value + delta);
    };
    shift(h.l3_offset);
    shift(h.l3_end);
    shift(h.l4_offset);
    shift(h.payload_offset);
}

} // namespace

bool strip_outer_vlan_tag(Frame& frame) {
    if (frame.length < kEthernetHeaderSize + kVlanTagSize)
        return false;
    uint16_t type = load_be16(frame.data() + 12);
    if (type != ethertype::vlan && type != ethertype::qinq && type != ethertype::qinq_legacy)
        return false;
    memmove(frame.data() + kVlanTagSize, frame.data(), 12);
    frame.offset += kVlanTagSize;
    frame.length -= kVlanTagSize;
    ParsedHeaders& h = frame.headers;
    if (h.has(parse_flag::parsed)) {
        shift_offsets(h, -static_cast<int>(kVlanTagSize));
        if (h.tag_count == 2) {
            h.outer_tpid = ethertype::vlan;
            h.outer_tci = h.inner_tci;
            h.inner_tci = 0;
            h.flags &= static_cast<uint16_t>(~parse_flag::double_tagged);
        } else {
            h.outer_tpid = 0;
            h.outer_tci = 0;
            h.flags &= static_cast<uint16_t>(~parse_flag::vlan_tagged);
        }
        --h.tag_count;
    }
    return true;
}

bool insert_vlan_tag(Frame& frame, uint16_t tci, uint16_t tpid) {
    if (frame.length < kEthernetHeaderSize || frame.length + kVlanTagSize > 0xFFFF)
        return false;
    if (!frame.push_front(kVlanTagSize))
        return false;
    uint8_t* p = frame.data();
    memmove(p, p + kVlanTagSize, 12);
    store_be16(p + 12, tpid);
    store_be16(p + 14, tci);
    ParsedHeaders& h = frame.headers;
    if (h.has(parse_flag::parsed)) {
        shift_offsets(h, static_cast<int>(kVlanTagSize));
        if (h.tag_count == 1) {
            h.inner_tci = h.outer_tci;
            h.flags |= parse_flag::double_tagged;
        }
        h.outer_tpid = tpid;
        h.outer_tci = tci;
        h.flags |= parse_flag::vlan_tagged;
        ++h.tag_count;
    }
    return true;
}

} // namespace halcyon::vswitch
