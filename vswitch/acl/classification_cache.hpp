// A small set-associative cache of tuple-space results per exact packet key: a flow's packets
// share one ClassifyKey (MACs, addresses, protocol, ports), so after its first packet the meter
// and decision lookups cost one hash and a compare instead of a probe per rule shape. It caches
// only what TupleSpace::classify() returns (a pure function of the key, the direction and the
// rule set), never counters or stateful flows, so it cannot change a verdict. A generation number
// invalidates every entry at once when the rule set changes. Memory comes from the caller
// (PortAcl's span).
//
// The key is packed into seven 64-bit words (CacheKey) with the direction, so hashing and
// comparing it are a few word operations. Each entry carries a tag (generation and 32 bits of the
// hash), so a lookup rejects the other ways of its set with one compare each. Four ways per set,
// so a handful of flows that hash alike do not keep evicting each other.
#pragma once

#include "vswitch/acl/tuple_space.hpp"

#include <array>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

// The classification-relevant facts of a packet and its direction slot, packed. The packet's own
// orientation (source, destination) is used, not the ACL's (local, remote): for one direction
// the two are the same information, and this way packing needs no per-field selects. Equal
// CacheKeys mean equal (ClassifyKey, direction) pairs.
struct CacheKey {
    std::array<uint64_t, 7> words{};

    [[nodiscard]] static constexpr CacheKey of(const PacketFacts& packet, int direction_slot) {
        CacheKey packed;
        // MACs are 48-bit values: the bytes above them hold the small fields.
        packed.words[0] = packet.source_mac.to_u64() | uint64_t{packet.protocol} << 48 |
                          uint64_t{static_cast<uint8_t>(packet.family)} << 56;
        packed.words[1] = packet.destination_mac.to_u64() | uint64_t{packet.has_ports} << 48 |
                          uint64_t{static_cast<uint8_t>(direction_slot)} << 56;
        packed.words[2] = packet.source_address.high;
        packed.words[3] = packet.source_address.low;
        packed.words[4] = packet.destination_address.high;
        packed.words[5] = packet.destination_address.low;
        packed.words[6] = uint64_t{packet.source_port} << 16 | packet.destination_port;
        return packed;
    }
    [[nodiscard]] constexpr uint64_t hash() const {
        // Each word spread by its own odd multiplier, summed, then mixed down.
        uint64_t sum = words[0] * 0x9E3779B97F4A7C15ull + words[1] * 0xC2B2AE3D27D4EB4Full +
                       words[2] * 0x165667B19E3779F9ull + words[3] * 0xD6E8FEB86659FD93ull +
                       words[4] * 0xFF51AFD7ED558CCDull + words[5] * 0xC4CEB9FE1A85EC53ull +
                       words[6] * 0x94D049BB133111EBull;
        sum ^= sum >> 31;
        sum *= 0xBF58476D1CE4E5B9ull;
        return sum ^ (sum >> 29);
    }
    [[nodiscard]] constexpr bool operator==(const CacheKey& other) const {
        uint64_t difference = 0;
        for (size_t i = 0; i < words.size(); ++i)
            difference |= words[i] ^ other.words[i];
        return difference == 0;
    }
};

struct ClassificationEntry {
    CacheKey key;
    uint64_t tag = 0; // generation << 32 | hash bits; generation 0 never matches
    int32_t meter_rule = TupleSpace::kNoMatch;
    int32_t decision_rule = TupleSpace::kNoMatch;
};

class ClassificationCache {
public:
    static constexpr size_t kWays = 4;

    // Entry count must be 0 (no cache) or a power of two >= kWays.
    [[nodiscard]] static constexpr bool valid_size(size_t entries) {
        return entries == 0 || (entries >= kWays && (entries & (entries - 1)) == 0);
    }

    ClassificationCache() = default;
    explicit ClassificationCache(std::span<ClassificationEntry> entries) : entries_(entries) {
        invalidate_all();
    }

    [[nodiscard]] bool enabled() const { return !entries_.empty(); }

    // Forgets every entry (the rule set changed).
    void invalidate_all() {
        if (++generation_ != 0)
            return;
        // The counter wrapped: stale entries could carry the new number, so clear them.
        for (ClassificationEntry& entry : entries_)
            entry.tag = 0;
        generation_ = 1;
    }

    // The cached results for `key` (whose hash() is `hash`), or null (a miss, or no cache).
    [[nodiscard, gnu::always_inline]] const ClassificationEntry* find(const CacheKey& key,
                                                                      uint64_t hash) const {
        if (entries_.empty())
            return nullptr;
        const uint64_t tag = tag_of(hash);
        const ClassificationEntry* set = &entries_[set_index(hash)];
        for (size_t way = 0; way < kWays; ++way)
            if (set[way].tag == tag && set[way].key == key)
                return &set[way];
        return nullptr;
    }

    // Remembers the results for `key`: in a way of its set that holds nothing current, else in
    // the next way in turn (round robin across the cache).
    void insert(const CacheKey& key, uint64_t hash, int32_t meter_rule, int32_t decision_rule) {
        if (entries_.empty())
            return;
        ClassificationEntry* set = &entries_[set_index(hash)];
        size_t way = 0;
        while (way < kWays && (set[way].tag >> 32) == generation_)
            ++way;
        if (way == kWays)
            way = next_victim_++ % kWays;
        ClassificationEntry& entry = set[way];
        entry.key = key;
        entry.tag = tag_of(hash);
        entry.meter_rule = meter_rule;
        entry.decision_rule = decision_rule;
    }

private:
    [[nodiscard]] uint64_t tag_of(uint64_t hash) const {
        return uint64_t{generation_} << 32 | (hash & 0xFFFFFFFFu);
    }
    // Sets are chosen by the hash's upper half, tags compare the lower half.
    [[nodiscard]] size_t set_index(uint64_t hash) const {
        return static_cast<size_t>((hash >> 32) & (entries_.size() / kWays - 1)) * kWays;
    }

    std::span<ClassificationEntry> entries_;
    uint32_t generation_ = 0;
    uint32_t next_victim_ = 0;
};

} // namespace halcyon::vswitch::acl
