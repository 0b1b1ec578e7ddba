// The vocabulary of Hyper-V Network Virtualization (seeds: "Network Virtualization Concepts"):
// a routing domain (one VM network, an isolation boundary named by a GUID) holds virtual subnets
// (each a 24-bit VSID); each VM network adapter has a customer address (CA, what the VM sees)
// that policy maps to a provider address (PA, the host's address on the physical network).
#pragma once

#include "vswitch/packet/bytes.hpp"

#include <array>
#include <stdint.h>
#include <type_traits>

namespace halcyon::vswitch::nvgre {

using Vsid = uint32_t;

// RFC 7637 reserves VSIDs 0..0xFFF and 0xFFFFFF; the seeds give the usable range as 4096 to
// 2^24 - 2.
inline constexpr Vsid kFirstVsid = 0x1000;
inline constexpr Vsid kLastVsid = 0xFFFFFE;
[[nodiscard]] constexpr bool is_valid_vsid(Vsid vsid) {
    return vsid >= kFirstVsid && vsid <= kLastVsid;
}

// The routing domain id (RDID): a GUID such as {11111111-2222-3333-4444-000000000000}, kept as
// two integers (first eight bytes, last eight bytes as written) because it is only compared.
struct RoutingDomainId {
    uint64_t high = 0;
    uint64_t low = 0;
    friend constexpr bool operator==(const RoutingDomainId&, const RoutingDomainId&) = default;
};

// A CA or PA: IPv4 or IPv6, in wire order (IPv4 in the first four bytes, the rest zero). The
// seeds allow IPv4 customers on an IPv6 provider network and the other way round.
struct NetAddress {
    bool is_ipv6 = false;
    std::array<uint8_t, 16> bytes{};

    [[nodiscard]] static constexpr NetAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        NetAddress address;
        address.bytes[0] = a;
        address.bytes[1] = b;
        address.bytes[2] = c;
        address.bytes[3] = d;
        return address;
    }
    [[nodiscard]] static constexpr NetAddress from_wire_v4(const uint8_t* p) {
        if (!std::is_constant_evaluated()) {
            NetAddress address;
            __builtin_memcpy(address.bytes.data(), p, 4);
            return address;
        }
        return v4(p[0], p[1], p[2], p[3]);
    }
    [[nodiscard]] static constexpr NetAddress from_wire_v6(const uint8_t* p) {
        NetAddress address;
        address.is_ipv6 = true;
        if (!std::is_constant_evaluated()) {
            __builtin_memcpy(address.bytes.data(), p, 16);
            return address;
        }
        for (int i = 0; i < 16; ++i)
            address.bytes[i] = p[i];
        return address;
    }
    [[nodiscard]] constexpr uint32_t wire_size() const { return is_ipv6 ? 16 : 4; }
    // The two halves of the address as integers: comparing and hashing them is a handful of
    // instructions, where a byte-wise compare of the array is sixteen (every packet compares
    // several addresses).
    // Little-endian composition, so the run-time path is one unaligned load on x86-64.
    [[nodiscard]] constexpr uint64_t half(int index) const {
        if (std::is_constant_evaluated()) {
            uint64_t value = 0;
            for (int i = 0; i < 8; ++i)
                value |= uint64_t{bytes[index * 8 + i]} << (8 * i);
            return value;
        }
        uint64_t value;
        __builtin_memcpy(&value, bytes.data() + index * 8, 8);
        return value;
    }
    friend constexpr bool operator==(const NetAddress& a, const NetAddress& b) {
        if (std::is_constant_evaluated())
            return a.is_ipv6 == b.is_ipv6 && a.bytes == b.bytes;
        return a.is_ipv6 == b.is_ipv6 && __builtin_memcmp(a.bytes.data(), b.bytes.data(), 16) == 0;
    }
};

// A well-mixed 64-bit hash of an address, for the fixed-capacity indexes over addresses.
[[nodiscard]] constexpr uint64_t hash_address(const NetAddress& address) {
    uint64_t state = address.half(0) * 0x9E3779B97F4A7C15ull;
    state ^= (address.half(1) ^ (address.is_ipv6 ? 1 : 0)) + (state >> 29);
    state *= 0xFF51AFD7ED558CCDull;
    return state ^ (state >> 32);
}

// One line of the lookup policy: where a customer address lives.
struct LookupRecord {
    RoutingDomainId routing_domain;
    Vsid vsid = 0;
    NetAddress customer_address;
    MacAddress customer_mac;
    NetAddress provider_address;
};

// A virtual subnet: its VSID, the routing domain it belongs to, and the CA of its default
// gateway (the lowest address of the subnet, ".1" for a /24), which the host's distributed
// router answers for.
struct VirtualSubnet {
    Vsid vsid = 0;
    RoutingDomainId routing_domain;
    NetAddress gateway_address;
    bool has_gateway = false;
};

} // namespace halcyon::vswitch::nvgre
