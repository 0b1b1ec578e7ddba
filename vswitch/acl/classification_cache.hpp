// A small set-associative cache of tuple-space results per exact packet key: a flow's packets
// share one ClassifyKey (MACs, addresses, protocol, ports), so after its first packet the meter
// and decision lookups cost one hash and a compare or two instead of a probe per rule shape. It
// caches only what TupleSpace::classify() returns (a pure function of the key, the direction and
// the rule set), never counters or stateful flows, so it cannot change a verdict. A generation
// number invalidates every entry at once when the rule set changes. Memory comes from the caller
// (PortAcl's span). Two ways per set, so two flows that hash alike do not evict each other.
#pragma once

#include "vswitch/acl/hash_mix.hpp"
#include "vswitch/acl/tuple_space.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

struct ClassificationEntry {
    ClassifyKey key;
    uint32_t generation = 0; // 0: never valid
    uint8_t direction_slot = 0;
    int32_t meter_rule = TupleSpace::kNoMatch;
    int32_t decision_rule = TupleSpace::kNoMatch;
};

class ClassificationCache {
public:
    static constexpr size_t kWays = 2;

    // Entry count must be 0 (no cache) or a power of two >= kWays.
    [[nodiscard]] static constexpr bool valid_size(size_t entries) {
        return entries == 0 || (entries >= kWays && (entries & (entries - 1)) == 0);
    }

    ClassificationCache() = default;
    explicit ClassificationCache(std::span<ClassificationEntry> entries) : entries_(entries) {
        invalidate_all();
    }

    // Forgets every entry (the rule set changed).
    void invalidate_all() {
        if (++generation_ != 0)
            return;
        // The counter wrapped: stale entries could carry the new number, so clear them.
        for (ClassificationEntry& entry : entries_)
            entry.generation = 0;
        generation_ = 1;
    }

    // The cached results for `key`, or null (a miss, or no cache).
    [[nodiscard]] const ClassificationEntry* find(const ClassifyKey& key,
                                                  int direction_slot) const {
        if (entries_.empty())
            return nullptr;
        const ClassificationEntry* set = &entries_[set_index(key, direction_slot)];
        for (size_t way = 0; way < kWays; ++way) {
            const ClassificationEntry& entry = set[way];
            if (entry.generation == generation_ && entry.direction_slot == direction_slot &&
                entry.key == key)
                return &entry;
        }
        return nullptr;
    }

    // Remembers the results for `key`: into an invalid way if there is one, else it moves the
    // newer way over the older (way 0 is always the most recently filled) and fills way 0.
    void insert(const ClassifyKey& key, int direction_slot, int32_t meter_rule,
                int32_t decision_rule) {
        if (entries_.empty())
            return;
        ClassificationEntry* set = &entries_[set_index(key, direction_slot)];
        if (set[0].generation == generation_)
            set[1] = set[0];
        ClassificationEntry& entry = set[0];
        entry.key = key;
        entry.generation = generation_;
        entry.direction_slot = static_cast<uint8_t>(direction_slot);
        entry.meter_rule = meter_rule;
        entry.decision_rule = decision_rule;
    }

private:
    [[nodiscard]] size_t set_index(const ClassifyKey& key, int direction_slot) const {
        uint64_t state = hash_combine(static_cast<uint64_t>(direction_slot), key.local_mac);
        state = hash_combine(state, key.remote_mac);
        state = hash_combine(state, key.local_address.low ^ key.local_address.high);
        state = hash_combine(state, key.remote_address.low ^ key.remote_address.high);
        state =
            hash_combine(state, uint64_t{key.local_port} << 32 | uint64_t{key.remote_port} << 16 |
                                    uint64_t{key.protocol} << 8 | static_cast<uint8_t>(key.family));
        return (hash_finish(state) & (entries_.size() / kWays - 1)) * kWays;
    }

    std::span<ClassificationEntry> entries_;
    uint32_t generation_ = 0;
};

} // namespace halcyon::vswitch::acl
