#include "vswitch/core/mac_table.hpp"

#include <bit>

namespace halcyon::vswitch {

MacTable::MacTable(std::span<MacEntry> storage, uint64_t ageing_ns) : ageing_ns_(ageing_ns) {
    // Use the largest power of two that fits the storage.
    size_t usable = storage.empty() ? 0 : std::bit_floor(storage.size());
    slots_ = storage.first(usable);
    mask_ = usable == 0 ? 0 : static_cast<uint32_t>(usable - 1);
    // A single slot still needs a shift below 64 (shifting a 64-bit value by 64 is undefined):
    // it keeps one bit, which the mask clears.
    shift_ = usable <= 1 ? 63 : 64 - static_cast<uint32_t>(std::countr_zero(usable));
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

LearnResult MacTable::learn_new(DomainId domain, uint64_t key, PortId port, uint64_t now_ns) {
    if (slots_.empty()) {
        ++stats_.table_full;
        return LearnResult::table_full;
    }
    // learn() found no entry: the probe ends at the first free slot.
    uint32_t slot = slot_for(domain, key);
    while (slots_[slot].used)
        slot = (slot + 1) & mask_;
    if (size_ >= limit_) {
        // Full: reclaim aged entries once before refusing, so a table that stopped being swept
        // still learns new stations.
        if (age(now_ns) == 0) {
            ++stats_.table_full;
            return LearnResult::table_full;
        }
        return learn(domain, key, port, now_ns);
    }
    slots_[slot] = MacEntry{key, now_ns, domain, port, true};
    ++size_;
    ++stats_.learned;
    return LearnResult::learned;
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
