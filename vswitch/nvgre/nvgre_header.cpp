#include "vswitch/nvgre/nvgre_header.hpp"

#include "vswitch/packet/checksum.hpp"
#include "vswitch/packet/protocols.hpp"

namespace halcyon::vswitch::nvgre {

uint8_t flow_id_of(std::span<const uint8_t> customer_frame, const ParsedHeaders& headers) {
    // The flow's identifying fields as big-endian words (the same on every host), each spread by
    // an odd multiplier and summed; the top byte of the sum's final mix is the id.
    constexpr uint64_t k1 = 0x9E3779B97F4A7C15ull;
    constexpr uint64_t k2 = 0xC2B2AE3D27D4EB4Full;
    const uint8_t* data = customer_frame.data();
    const uint32_t size = static_cast<uint32_t>(customer_frame.size());
    const auto word = [](const uint8_t* p) {
        return uint64_t{load_be32(p)} << 32 | load_be32(p + 4);
    };
    const uint8_t protocol = headers.ip_protocol;
    uint64_t hash = protocol;
    if (headers.l3 == L3Kind::ipv4 && headers.l3_offset + 20u <= size) {
        hash += word(data + headers.l3_offset + 12) * k1; // source and destination address
    } else if (headers.l3 == L3Kind::ipv6 && headers.l3_offset + 40u <= size) {
        const uint8_t* addresses = data + headers.l3_offset + 8;
        hash += (word(addresses) ^ word(addresses + 16)) * k1;
        hash += (word(addresses + 8) ^ word(addresses + 24)) * k2;
    } else if (size >= 12) {
        hash += word(data) * k1 + uint64_t{load_be32(data + 8)} * k2; // non-IP: the MAC pair
    }
    if (headers.has(parse_flag::has_l4) &&
        (protocol == ip_protocol::tcp || protocol == ip_protocol::udp))
        hash += (uint64_t{headers.src_port} << 16 | headers.dst_port) * k2;
    hash ^= hash >> 29;
    hash *= k1;
    return static_cast<uint8_t>(hash >> 56);
}

} // namespace halcyon::vswitch::nvgre
