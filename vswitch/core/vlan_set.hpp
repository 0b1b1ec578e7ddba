// A set of VLAN ids 0..4095 as a 4096-bit map: the allowed-VLAN list of a trunk port and the
// secondary-VLAN list of a promiscuous PVLAN port. Membership is one shift and mask.
#pragma once

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

class VlanSet {
public:
    constexpr void add(uint16_t vlan) {
        if (vlan < 4096)
            words_[vlan / 64] |= uint64_t{1} << (vlan % 64);
    }
    // Adds first..last inclusive (an "allowed VLAN list" like 10-20).
    constexpr void add_range(uint16_t first, uint16_t last) {
        for (uint32_t vlan = first; vlan <= last && vlan < 4096; ++vlan)
            add(static_cast<uint16_t>(vlan));
    }
    constexpr void remove(uint16_t vlan) {
        if (vlan < 4096)
            words_[vlan / 64] &= ~(uint64_t{1} << (vlan % 64));
    }
    [[nodiscard]] constexpr bool contains(uint16_t vlan) const {
        return vlan < 4096 && ((words_[vlan / 64] >> (vlan % 64)) & 1) != 0;
    }
    [[nodiscard]] constexpr bool empty() const {
        for (uint64_t word : words_)
            if (word != 0)
                return false;
        return true;
    }

private:
    std::array<uint64_t, 64> words_{};
};

} // namespace halcyon::vswitch
