// NVGRE on the wire (RFC 7637): an outer Ethernet header, an outer IPv4 or IPv6 header between
// provider addresses (protocol 47), and an 8-byte GRE header with only the K bit set (C = S = 0,
// version 0), protocol type 0x6558 (Transparent Ethernet Bridging) and the key
// VSID (24 bits) << 8 | FlowID (8 bits), followed by the customer's Ethernet frame without FCS.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"
#include "vswitch/packet/frame.hpp"

#include <stdint.h>

namespace halcyon::vswitch::nvgre {

inline constexpr uint32_t kGreHeaderSize = 8;
inline constexpr uint16_t kGreKeyFlag = 0x2000;
inline constexpr uint32_t kOuterIpv4Overhead = 14 + 20 + kGreHeaderSize;
inline constexpr uint32_t kOuterIpv6Overhead = 14 + 40 + kGreHeaderSize;

[[nodiscard]] constexpr uint32_t nvgre_key(Vsid vsid, uint8_t flow_id) {
    return (vsid & 0xFFFFFF) << 8 | flow_id;
}

struct EncapsulationParams {
    MacAddress outer_source_mac;
    MacAddress outer_destination_mac;
    NetAddress source_pa;      // this host's provider address
    NetAddress destination_pa; // same family as source_pa
    Vsid vsid = 0;
    uint8_t flow_id = 0;
    uint8_t ttl = 64;
    uint8_t traffic_class = 0; // DSCP/ECN byte copied from the customer packet
    uint16_t ipv4_identification = 0;
    uint32_t provider_mtu = 1500; // largest outer IP packet the provider network carries
};

// Wraps `frame` (a customer Ethernet frame) in NVGRE using its headroom. Errors, frame unchanged:
// out_of_range when the outer IP packet would exceed the provider MTU (we never fragment: Hyper-V
// expects guests' MTU to leave room for the 42 bytes of encapsulation), corrupt when the frame
// would exceed 64 KiB (no parser accepts it), out_of_memory when the frame lacks headroom,
// invalid_argument for mixed PA families or an invalid VSID. On success frame.headers describe the outer packet exactly as parse_headers()
// would, without parsing it again (the encapsulation wrote every byte of it).
[[nodiscard]] ErrorOr<void> encapsulate(Frame& frame, const EncapsulationParams& params);

// What a received NVGRE packet says, read from a frame parse_headers() has parsed.
struct NvgreView {
    NetAddress outer_source;
    NetAddress outer_destination;
    Vsid vsid = 0;
    uint8_t flow_id = 0;
    uint32_t inner_offset = 0; // the customer frame, relative to frame.data()
    uint32_t inner_length = 0;
};

enum class NvgreParse : uint8_t {
    not_nvgre, // not IP/GRE carrying Transparent Ethernet Bridging: someone else's traffic
    malformed, // claims to be NVGRE but breaks RFC 7637 (flags, version, key, truncation)
    ok,
};

[[nodiscard]] NvgreParse parse_nvgre(const Frame& frame, NvgreView& view);

// FlowID: 8 bits of entropy from the customer flow (addresses, protocol, ports) so that ECMP in
// the provider network keeps one flow on one path (RFC 7637 section 3.1).
[[nodiscard]] uint8_t flow_id_of(std::span<const uint8_t> customer_frame,
                                 const ParsedHeaders& headers);

} // namespace halcyon::vswitch::nvgre
