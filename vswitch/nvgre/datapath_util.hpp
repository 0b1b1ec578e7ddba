// Small helpers shared by NetworkVirtualization's customer and provider paths (datapath*.cpp),
// including the flow-cache keys; not part of the library's API.
#pragma once

#include "vswitch/nvgre/flow_cache.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/frame.hpp"
#include "vswitch/packet/protocols.hpp"

#include <stdint.h>

namespace halcyon::vswitch::nvgre::datapath {

[[nodiscard]] inline bool is_ip(const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 || h.l3 == L3Kind::ipv6;
}

[[nodiscard]] inline NetAddress source_ip(const uint8_t* data, const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 ? NetAddress::from_wire_v4(data + h.l3_offset + 12)
                                : NetAddress::from_wire_v6(data + h.l3_offset + 8);
}

[[nodiscard]] inline NetAddress destination_ip(const uint8_t* data, const ParsedHeaders& h) {
    return h.l3 == L3Kind::ipv4 ? NetAddress::from_wire_v4(data + h.l3_offset + 16)
                                : NetAddress::from_wire_v6(data + h.l3_offset + 24);
}

inline void write_mac(uint8_t* p, const MacAddress& mac) {
    __builtin_memcpy(p, mac.bytes.data(), 6);
}

// Decrements the IPv4 TTL (fixing the header checksum incrementally) or the IPv6 hop limit, as
// any router does. False if the packet must not be forwarded (it would reach zero).
[[nodiscard]] inline bool decrement_ttl(uint8_t* data, const ParsedHeaders& h) {
    uint8_t* ip = data + h.l3_offset;
    if (h.l3 == L3Kind::ipv4) {
        if (ip[8] <= 1)
            return false;
        const uint16_t old_word = load_be16(ip + 8);
        --ip[8];
        store_be16(ip + 10, checksum_update16(load_be16(ip + 10), old_word, load_be16(ip + 8)));
        return true;
    }
    if (ip[7] <= 1)
        return false;
    --ip[7];
    return true;
}

[[nodiscard]] inline uint8_t traffic_class_of(const uint8_t* data, const ParsedHeaders& h) {
    const uint8_t* ip = data + h.l3_offset;
    if (h.l3 == L3Kind::ipv4)
        return ip[1];
    return static_cast<uint8_t>((load_be16(ip) >> 4) & 0xFF);
}

[[nodiscard]] inline bool may_be_resolution(const ParsedHeaders& h) {
    return h.l3 == L3Kind::arp || (h.l3 == L3Kind::ipv6 && h.ip_protocol == ip_protocol::icmpv6);
}

[[nodiscard]] inline uint64_t load_u64(const uint8_t* p) {
    uint64_t value;
    __builtin_memcpy(&value, p, 8);
    return value;
}

inline constexpr uint64_t kLow48 = 0xFFFF'FFFF'FFFFull;

// The flow key of a parsed IPv4 frame (at least an Ethernet header) from a VM in virtual subnet
// `vsid`: the MACs, the addresses, the protocol and, for TCP/UDP with a complete header, the
// ports — everything decide_customer() and flow_id_of() read from an IPv4 frame. (Raw loads in
// machine order: the key only has to tell flows apart.)
[[nodiscard, gnu::always_inline]] inline FlowKey
customer_flow_key(const uint8_t* data, const ParsedHeaders& h, uint32_t vsid) {
    const bool ported = h.has(parse_flag::has_l4) &&
                        (h.ip_protocol == ip_protocol::tcp || h.ip_protocol == ip_protocol::udp);
    const uint64_t ports = ported ? (uint64_t{h.src_port} << 16 | h.dst_port) : 0;
    FlowKey key;
    key.words[0] =
        (load_u64(data) & kLow48) | uint64_t{h.ip_protocol} << 48 | uint64_t{ported} << 56;
    key.words[1] = load_u64(data + 6) & kLow48;
    key.words[2] = load_u64(data + h.l3_offset + 12); // source and destination address
    key.words[3] = ports | uint64_t{vsid} << 32;
    return key;
}

// The flow key of a received NVGRE packet over IPv4 whose inner frame parsed as IPv4: the outer
// addresses, the VSID, the inner destination MAC and the inner addresses — everything
// decide_provider() reads.
[[nodiscard, gnu::always_inline]] inline FlowKey
provider_flow_key(const uint8_t* data, const NvgreView& view, const ParsedHeaders& inner) {
    const uint8_t* customer = data + view.inner_offset;
    FlowKey key;
    key.words[0] = load_u64(data + view.outer_l3_offset + 12);
    key.words[1] = load_u64(customer + inner.l3_offset + 12);
    key.words[2] = load_u64(customer) & kLow48;
    key.words[3] = view.vsid;
    return key;
}

} // namespace halcyon::vswitch::nvgre::datapath
