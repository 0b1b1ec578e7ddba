// The MAC learning table: (forwarding domain, MAC) -> port, in caller-provided fixed storage.
// Open addressing with linear probing and backward-shift deletion (no tombstones, so lookups never
// degrade), ageing against the caller's clock, a hard capacity limit (a flood of random source
// MACs fills it and then stops learning; it never evicts live entries or allocates), and move
// detection (a MAC seen on a new port re-points the entry and counts a move).
#pragma once

#include "vswitch/packet/bytes.hpp"
#include "vswitch/packet/frame.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

// A forwarding domain: a VLAN (PVLAN secondaries share their primary's domain) or an NVGRE VSID.
using DomainId = uint32_t;
[[nodiscard]] constexpr DomainId vlan_domain(uint16_t vlan) {
    return vlan;
}
[[nodiscard]] constexpr DomainId vsid_domain(uint32_t vsid) {
    return (1u << 24) | vsid;
}

struct MacEntry {
    uint64_t mac = 0; // MacAddress::to_u64()
    uint64_t last_seen_ns = 0;
    DomainId domain = 0;
    PortId port = kNoPort;
    bool used = false;
};

struct MacTableStats {
    uint64_t learned = 0;
    uint64_t moves = 0;
    uint64_t refreshed = 0;
    uint64_t table_full = 0; // learn attempts refused because the table was at capacity
    uint64_t aged_out = 0;
};

enum class LearnResult : uint8_t { learned, refreshed, moved, table_full };

class MacTable {
public:
    // `storage.size()` must be a power of two; at most 3/4 of it is filled, which keeps probe
    // sequences short. ageing_ns = 0 disables ageing.
    MacTable(std::span<MacEntry> storage, uint64_t ageing_ns);

    LearnResult learn(DomainId domain, const MacAddress& mac, PortId port, uint64_t now_ns) {
        return learn(domain, mac.to_u64(), port, now_ns);
    }
    // The same with the MAC as MacAddress::to_u64() gives it. Inline for the common case, a
    // station the table already knows.
    LearnResult learn(DomainId domain, uint64_t mac, PortId port, uint64_t now_ns) {
        if (slots_.empty())
            return learn_new(domain, mac, port, now_ns);
        for (uint32_t slot = slot_for(domain, mac); slots_[slot].used; slot = (slot + 1) & mask_) {
            MacEntry& entry = slots_[slot];
            if (entry.mac == mac && entry.domain == domain) {
                entry.last_seen_ns = now_ns;
                if (entry.port != port) {
                    entry.port = port;
                    ++stats_.moves;
                    return LearnResult::moved;
                }
                ++stats_.refreshed;
                return LearnResult::refreshed;
            }
        }
        return learn_new(domain, mac, port, now_ns);
    }
    // Counts `count` more learn() calls with the same arguments as the one that returned `first`,
    // without making them: such a call finds the station where the first one left it (or the
    // table still full), so only the statistics change. For bursts whose frames share a sender.
    void note_repeats(LearnResult first, uint32_t count) {
        if (first == LearnResult::table_full)
            stats_.table_full += count;
        else
            stats_.refreshed += count;
    }
    // The port for (domain, mac), or kNoPort if unknown or aged out. Inline: every unicast frame
    // makes one.
    [[nodiscard]] PortId lookup(DomainId domain, const MacAddress& mac, uint64_t now_ns) const {
        return lookup(domain, mac.to_u64(), now_ns);
    }
    [[nodiscard]] PortId lookup(DomainId domain, uint64_t mac, uint64_t now_ns) const {
        if (slots_.empty())
            return kNoPort;
        for (uint32_t slot = slot_for(domain, mac); slots_[slot].used; slot = (slot + 1) & mask_) {
            const MacEntry& entry = slots_[slot];
            if (entry.mac == mac && entry.domain == domain)
                return expired(entry, now_ns) ? kNoPort : entry.port;
        }
        return kNoPort;
    }
    // Drops entries idle longer than the ageing time; returns how many.
    uint32_t age(uint64_t now_ns);
    // Forgets everything learned on `port` (port removed or moved to another VLAN).
    uint32_t flush_port(PortId port);
    void clear();

    [[nodiscard]] uint32_t size() const { return size_; }
    [[nodiscard]] uint32_t capacity() const { return limit_; }
    [[nodiscard]] const MacTableStats& stats() const { return stats_; }
    void set_ageing(uint64_t ageing_ns) { ageing_ns_ = ageing_ns; }

private:
    // Fibonacci hashing: one multiply spreads the key's bits into the top bits, which become the
    // slot (MACs from one vendor share their top bytes, so the raw key would cluster badly under
    // a power-of-two mask). The domain is folded into bits the 48-bit MAC does not use.
    [[nodiscard]] uint32_t slot_for(DomainId domain, uint64_t mac) const {
        const uint64_t key = mac ^ (uint64_t{domain} << 48) ^ (uint64_t{domain} >> 16);
        return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
    }
    [[nodiscard]] bool expired(const MacEntry& entry, uint64_t now_ns) const {
        return ageing_ns_ != 0 && now_ns > entry.last_seen_ns &&
               now_ns - entry.last_seen_ns > ageing_ns_;
    }
    void erase_slot(uint32_t slot);
    // learn() of a station the table does not hold (or with no slots at all).
    LearnResult learn_new(DomainId domain, uint64_t mac, PortId port, uint64_t now_ns);

    std::span<MacEntry> slots_;
    uint32_t mask_ = 0;
    uint32_t shift_ = 63; // 64 - log2(slot count): slot_for() keeps the top bits
    uint32_t limit_ = 0;
    uint32_t size_ = 0;
    uint64_t ageing_ns_ = 0;
    MacTableStats stats_;
};

} // namespace halcyon::vswitch
