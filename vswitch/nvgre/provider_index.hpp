// What this host knows about provider addresses (PAs), in one open-addressing index: whether a PA
// is one of its own (and the MAC of the interface that owns it: the outer source MAC), and
// whether it is a neighbour on the provider network (and its MAC: the outer destination MAC).
// Encapsulation asks both questions about the destination PA and decapsulation the first about
// the outer destination, so one lookup answers them together. Fixed capacity, no removal
// (entries are configuration), slot value 0 = empty else entry index + 1.
#pragma once

#include "vswitch/nvgre/nvgre_types.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch::nvgre {

inline constexpr uint32_t kMaxLocalProviderAddresses = 8;
inline constexpr uint32_t kMaxProviderNeighbors = 64;

struct ProviderEntry {
    NetAddress address;
    bool local = false; // one of this host's PAs
    MacAddress local_mac;
    bool neighbor = false; // a peer on the provider network
    MacAddress neighbor_mac;
};

class ProviderIndex {
public:
    [[nodiscard]] const ProviderEntry* find(const NetAddress& address) const {
        for (uint32_t slot = static_cast<uint32_t>(hash_address(address)) & kMask;
             slots_[slot] != 0; slot = (slot + 1) & kMask) {
            const ProviderEntry& entry = entries_[slots_[slot] - 1];
            if (entry.address == address)
                return &entry;
        }
        return nullptr;
    }
    [[nodiscard]] const ProviderEntry* find_local(const NetAddress& address) const {
        const ProviderEntry* entry = find(address);
        return entry != nullptr && entry->local ? entry : nullptr;
    }

    enum class AddResult : uint8_t { added, exists, full };
    // Makes `address` a local PA. exists if it already is one; full past
    // kMaxLocalProviderAddresses.
    [[nodiscard]] AddResult add_local(const NetAddress& address, const MacAddress& mac) {
        ProviderEntry* entry = entry_for(address);
        if (entry != nullptr && entry->local)
            return AddResult::exists;
        if (local_count_ == kMaxLocalProviderAddresses || (entry == nullptr && !has_room()))
            return AddResult::full;
        entry = entry != nullptr ? entry : insert(address);
        entry->local = true;
        entry->local_mac = mac;
        ++local_count_;
        return AddResult::added;
    }
    // Sets (or replaces) the neighbour MAC of `address`; false when a new neighbour would exceed
    // kMaxProviderNeighbors.
    [[nodiscard]] bool set_neighbor(const NetAddress& address, const MacAddress& mac) {
        ProviderEntry* entry = entry_for(address);
        if (entry == nullptr || !entry->neighbor) {
            if (neighbor_count_ == kMaxProviderNeighbors || (entry == nullptr && !has_room()))
                return false;
            entry = entry != nullptr ? entry : insert(address);
            entry->neighbor = true;
            ++neighbor_count_;
        }
        entry->neighbor_mac = mac;
        return true;
    }

private:
    static constexpr uint32_t kCapacity = kMaxLocalProviderAddresses + kMaxProviderNeighbors;
    // A power of two at least twice the capacity keeps probe chains short even when full.
    static constexpr uint32_t kSlots = 256;
    static constexpr uint32_t kMask = kSlots - 1;
    static_assert(kSlots >= 2 * kCapacity && kCapacity < 255);

    [[nodiscard]] bool has_room() const { return count_ < kCapacity; }
    [[nodiscard]] ProviderEntry* entry_for(const NetAddress& address) {
        return const_cast<ProviderEntry*>(find(address));
    }
    ProviderEntry* insert(const NetAddress& address) {
        uint32_t slot = static_cast<uint32_t>(hash_address(address)) & kMask;
        while (slots_[slot] != 0)
            slot = (slot + 1) & kMask;
        ProviderEntry& entry = entries_[count_];
        entry = ProviderEntry{};
        entry.address = address;
        slots_[slot] = static_cast<uint8_t>(++count_);
        return &entry;
    }

    std::array<ProviderEntry, kCapacity> entries_{};
    std::array<uint8_t, kSlots> slots_{};
    uint32_t count_ = 0;
    uint32_t local_count_ = 0;
    uint32_t neighbor_count_ = 0;
};

} // namespace halcyon::vswitch::nvgre
