// A set of switch ports as a 64-bit mask: flooding computes "every eligible port but the ingress
// one" with a few ANDs instead of a loop over port structures.
#pragma once

#include "vswitch/packet/frame.hpp"

#include <bit>
#include <stdint.h>

namespace halcyon::vswitch {

inline constexpr uint32_t kMaxPorts = 64;

struct PortSet {
    uint64_t bits = 0;

    [[nodiscard]] static constexpr PortSet of(PortId port) {
        return port < kMaxPorts ? PortSet{uint64_t{1} << port} : PortSet{};
    }
    [[nodiscard]] constexpr bool contains(PortId port) const {
        return port < kMaxPorts && ((bits >> port) & 1) != 0;
    }
    constexpr void add(PortId port) {
        if (port < kMaxPorts)
            bits |= uint64_t{1} << port;
    }
    constexpr void remove(PortId port) {
        if (port < kMaxPorts)
            bits &= ~(uint64_t{1} << port);
    }
    [[nodiscard]] constexpr bool empty() const { return bits == 0; }
    [[nodiscard]] constexpr uint32_t size() const {
        return static_cast<uint32_t>(std::popcount(bits));
    }
    // size() == 1 and size() > 1 without counting (the packet path asks them per frame, and a
    // population count without the POPCNT instruction is a dozen operations).
    [[nodiscard]] constexpr bool single() const { return bits != 0 && (bits & (bits - 1)) == 0; }
    [[nodiscard]] constexpr bool several() const { return (bits & (bits - 1)) != 0; }
    // Removes and returns the lowest port id (kNoPort when empty): `while` loops over a set.
    [[nodiscard]] constexpr PortId pop() {
        if (bits == 0)
            return kNoPort;
        PortId port = static_cast<PortId>(std::countr_zero(bits));
        bits &= bits - 1;
        return port;
    }
    [[nodiscard]] constexpr PortSet operator&(PortSet other) const { return {bits & other.bits}; }
    [[nodiscard]] constexpr PortSet operator|(PortSet other) const { return {bits | other.bits}; }
    [[nodiscard]] constexpr PortSet without(PortSet other) const { return {bits & ~other.bits}; }
    friend constexpr bool operator==(PortSet, PortSet) = default;
};

} // namespace halcyon::vswitch
