// Network byte-order loads and stores, and the address types the switch compares. Frames are raw
// byte buffers with no alignment guarantee, so every multi-byte field goes through these helpers
// instead of being cast to a struct (which would also be undefined behaviour under strict
// aliasing).
#pragma once

#include <array>
#include <bit>
#include <stdint.h>
#include <type_traits>

namespace halcyon::vswitch {

// At run time on a little-endian CPU each is one unaligned access and a byte swap (the compiler
// does not always merge the byte-wise form, and every frame goes through dozens of these).
[[nodiscard]] constexpr uint16_t load_be16(const uint8_t* p) {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        uint16_t value;
        __builtin_memcpy(&value, p, 2);
        return __builtin_bswap16(value);
    }
    return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
[[nodiscard]] constexpr uint32_t load_be32(const uint8_t* p) {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        uint32_t value;
        __builtin_memcpy(&value, p, 4);
        return __builtin_bswap32(value);
    }
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
constexpr void store_be16(uint8_t* p, uint16_t value) {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        const uint16_t swapped = __builtin_bswap16(value);
        __builtin_memcpy(p, &swapped, 2);
        return;
    }
    p[0] = static_cast<uint8_t>(value >> 8);
    p[1] = static_cast<uint8_t>(value);
}
constexpr void store_be32(uint8_t* p, uint32_t value) {
    if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
        const uint32_t swapped = __builtin_bswap32(value);
        __builtin_memcpy(p, &swapped, 4);
        return;
    }
    p[0] = static_cast<uint8_t>(value >> 24);
    p[1] = static_cast<uint8_t>(value >> 16);
    p[2] = static_cast<uint8_t>(value >> 8);
    p[3] = static_cast<uint8_t>(value);
}

// An Ethernet MAC address in wire order.
struct MacAddress {
    std::array<uint8_t, 6> bytes{};

    [[nodiscard]] static constexpr MacAddress from(const uint8_t* p) {
        if (!std::is_constant_evaluated()) {
            MacAddress mac;
            __builtin_memcpy(mac.bytes.data(), p, 6);
            return mac;
        }
        return MacAddress{{p[0], p[1], p[2], p[3], p[4], p[5]}};
    }
    // The I/G bit: set for multicast and broadcast destinations (and illegal in a source).
    [[nodiscard]] constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; }
    [[nodiscard]] constexpr bool is_broadcast() const { return to_u64() == 0xFFFF'FFFF'FFFFull; }
    [[nodiscard]] constexpr bool is_zero() const { return to_u64() == 0; }
    // The 48 bits packed into an integer: a cheap hash/compare key.
    [[nodiscard]] constexpr uint64_t to_u64() const {
        if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
            // One 6-byte load and a byte swap instead of six loads and shifts: every packet
            // packs several MACs (learning, lookup, ACL keys).
            uint64_t value = 0;
            __builtin_memcpy(&value, bytes.data(), 6);
            return __builtin_bswap64(value) >> 16;
        }
        return (uint64_t{bytes[0]} << 40) | (uint64_t{bytes[1]} << 32) |
               (uint64_t{bytes[2]} << 24) | (uint64_t{bytes[3]} << 16) | (uint64_t{bytes[4]} << 8) |
               bytes[5];
    }
    friend constexpr bool operator==(const MacAddress& a, const MacAddress& b) {
        if (std::is_constant_evaluated())
            return a.bytes == b.bytes;
        return __builtin_memcmp(a.bytes.data(), b.bytes.data(), 6) == 0;
    }
};

inline constexpr MacAddress kBroadcastMac{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}};

// An IPv4 address in host order (so prefix arithmetic is plain integer arithmetic).
struct Ipv4Address {
    uint32_t value = 0;
    [[nodiscard]] static constexpr Ipv4Address from(const uint8_t* p) { return {load_be32(p)}; }
    friend constexpr bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};

// An IPv6 address in wire order.
struct Ipv6Address {
    std::array<uint8_t, 16> bytes{};
    [[nodiscard]] static constexpr Ipv6Address from(const uint8_t* p) {
        Ipv6Address a;
        for (int i = 0; i < 16; ++i)
            a.bytes[i] = p[i];
        return a;
    }
    [[nodiscard]] constexpr bool is_unspecified() const {
        for (uint8_t b : bytes)
            if (b != 0)
                return false;
        return true;
    }
    [[nodiscard]] constexpr bool is_multicast() const { return bytes[0] == 0xFF; }
    friend constexpr bool operator==(const Ipv6Address&, const Ipv6Address&) = default;
};

} // namespace halcyon::vswitch
