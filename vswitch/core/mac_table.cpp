#include "vswitch/core/mac_table.hpp"

#include <bit>

namespace halcyon::vswitch {
namespace {

// A 64-bit mixer (multiply-xorshift): MACs from one vendor share their top bytes, so the raw key
// would cluster badly under a power-of-two mask.
uint64_t mix(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return key;
}

} // namespace

MacTable::MacTable(std::span<MacEntry> storage, uint64_t ageing_ns) : ageing_ns_(ageing_ns) {
    // Use the largest power of two that fits the storage.
    size_t usable = storage.empty() ? 0 : std::bit_floor(storage.size());
    slots_ = storage.first(usable);
    mask_ = usable == 0 ? 0 : static_cast<uint32_t>(usable - 1);
    // At least one slot always stays empty, which is what terminates every probe loop.
    size_t spare = usable / 4 > 0 ? usable / 4 : 1;
    limit_ = usable == 0 ? 0 : static_cast<uint32_t>(usable - spare);
    clear();
}

void MacTable::clear() {
    for (MacEntry& entry : slots_)
        entry = MacEntry{};
    size_ = 0;
}

uint32_t MacTable::slot_for(DomainId domain, uint64_t mac) const {
    return static_cast<uint32_t>(mix(mac ^ (uint64_t{domain} << 40) ^ (uint64_t{domain} >> 24))) &
           mask_;
}

bool MacTable::expired(const MacEntry& entry, uint64_t now_ns) const {
    return ageing_ns_ != 0 && now_ns > entry.last_seen_ns &&
           now_ns - entry.last_seen_ns > ageing_ns_;
}

LearnResult MacTable::learn(DomainId domain, const MacAddress& mac, PortId port, uint64_t now_ns) {
    if (slots_.empty()) {
        ++stats_.table_full;
        return LearnResult::table_full;
    }
    uint64_t key = mac.to_u64();
    uint32_t slot = slot_for(domain, key);
    while (slots_[slot].used) {
        MacEntry& entry = slots_[slot];
        if (entry.mac == key && entry.domain == domain) {
            entry.last_seen_ns = now_ns;
            if (entry.port != port) {
                entry.port = port;
                ++stats_.moves;
                return LearnResult::moved;
            }
            ++stats_.refreshed;
            return LearnResult::refreshed;
        }
        slot = (slot + 1) & mask_;
    }
    if (size_ >= limit_) {
        // Full: reclaim aged entries once before refusing, so a table that stopped being swept
        // still learns new stations.
        if (age(now_ns) == 0) {
            ++stats_.table_full;
            return LearnResult::table_full;
        }
        return learn(domain, mac, port, now_ns);
    }
    slots_[slot] = MacEntry{key, now_ns, domain, port, true};
    ++size_;
    ++stats_.learned;
    return LearnResult::learned;
}

PortId MacTable::lookup(DomainId domain, const MacAddress& mac, uint64_t now_ns) const {
    if (slots_.empty())
        return kNoPort;
    uint64_t key = mac.to_u64();
    for (uint32_t slot = slot_for(domain, key); slots_[slot].used; slot = (slot + 1) & mask_) {
        const MacEntry& entry = slots_[slot];
        if (entry.mac == key && entry.domain == domain)
            return expired(entry, now_ns) ? kNoPort : entry.port;
    }
    return kNoPort;
}

// Backward-shift deletion: pull later members of the probe run into the hole so that every entry
// stays reachable from its home slot without tombstones.
void MacTable::erase_slot(uint32_t hole) {
    slots_[hole].used = false;
    --size_;
    uint32_t next = (hole + 1) & mask_;
    while (slots_[next].used) {
        uint32_t home = slot_for(slots_[next].domain, slots_[next].mac);
        // Move `next` into the hole if its home is not cyclically within (hole, next].
        bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (!stays) {
            slots_[hole] = slots_[next];
            slots_[next].used = false;
            hole = next;
        }
        next = (next + 1) & mask_;
    }
}

uint32_t MacTable::age(uint64_t now_ns) {
    if (ageing_ns_ == 0)
        return 0;
    uint32_t removed = 0;
    for (uint32_t slot = 0; slot < slots_.size();) {
        if (slots_[slot].used && expired(slots_[slot], now_ns)) {
            erase_slot(slot);
            ++removed;
            continue; // the shift may have moved another entry into this slot
        }
        ++slot;
    }
    stats_.aged_out += removed;
    return removed;
}

uint32_t MacTable::flush_port(PortId port) {
    uint32_t removed = 0;
    for (uint32_t slot = 0; slot < slots_.size();) {
        if (slots_[slot].used && slots_[slot].port == port) {
            erase_slot(slot);
            ++removed;
            continue;
        }
        ++slot;
    }
    return removed;
}

} // namespace halcyon::vswitch
