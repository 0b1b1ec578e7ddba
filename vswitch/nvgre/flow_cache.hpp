// Exact-match flow caches for NVGRE (NetworkVirtualization): the decision policy makes for a flow
// — which records match, whether the peer is local, the outer headers to put in front — depends
// only on a few header fields and on configuration, so it is made once per flow and then looked up
// with one hash of four words. A hit replaces two policy probes over (say) 10,000 records, the
// provider index probe, the flow-id hash and building 42 bytes of headers field by field.
//
// What keeps a cached decision correct:
// - The key holds every packet field the decision reads (see CustomerFlowKey / ProviderFlowKey);
//   the fields that change per packet (lengths, TTL, DSCP, the IPv4 identification, the flow id
//   of a received packet) are not decided here but applied per packet.
// - Every entry carries the cache's generation in its tag; invalidate_all() bumps it, so all
//   entries miss at once. NetworkVirtualization invalidates whenever the PolicyTable's generation
//   moves or a provider address or neighbour changes (the only inputs besides the key; its
//   ProviderConfig is fixed).
// - A miss is decided by the ordinary path, and hits and misses apply the decision with the same
//   code, so a cached switch behaves exactly as an uncached one (tests and the fuzzer compare the
//   two).
//
// Memory is the caller's (a span of entries, 0 or a power of two >= kWays); nothing is allocated.
#pragma once

#include "vswitch/core/cache_sets.hpp"
#include "vswitch/nvgre/nvgre_header.hpp"
#include "vswitch/packet/drop_reason.hpp"

#include <array>
#include <bit>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::nvgre {

// Four packed words; equal keys mean equal decisions.
struct FlowKey {
    std::array<uint64_t, 4> words{};

    // The words are folded in pairs first (a hash collision only costs a probe
    // of another way; the full key is always compared).
    [[nodiscard]] constexpr uint64_t hash() const {
        const uint64_t a = words[0] ^ std::rotl(words[2], 32);
        const uint64_t b = words[1] ^ std::rotl(words[3], 17);
        // A product carries low bits upwards only, so its top bits depend on every bit of the
        // factor: the cache takes its set from the top bits and its tag from the middle ones.
        return (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    }
    [[nodiscard]] constexpr bool operator==(const FlowKey& other) const {
        return ((words[0] ^ other.words[0]) | (words[1] ^ other.words[1]) |
                (words[2] ^ other.words[2]) | (words[3] ^ other.words[3])) == 0;
    }
};

// What policy decided for a unicast IPv4 frame from a VM (see NetworkVirtualization): drop it
// untouched, or (after routing it into another virtual subnet, when `routed`) deliver it locally,
// drop it for want of a route to its provider address, or encapsulate it.
struct CustomerDecision {
    enum class Outcome : uint8_t { drop, local, no_route, encapsulate };
    Outcome outcome = Outcome::drop;
    DropReason reason = DropReason::nvgre_no_policy; // Outcome::drop
    bool routed = false;      // decrement the TTL, rewrite the MACs (counted as routed)
    bool outer_valid = false; // Outcome::encapsulate: false = parameters encapsulate() rejects
    uint32_t vsid = 0;        // frame.vsid afterwards (the destination's virtual subnet)
    MacAddress routed_mac;    // routed: the destination CA's MAC
};

// A decision as cached: encapsulation with the flow's prebuilt outer headers.
struct CustomerFlow : CustomerDecision {
    OuterTemplate outer; // Outcome::encapsulate
};

// What policy decided for a received NVGRE packet: decapsulate it, or drop it with `reason`.
struct ProviderFlow {
    bool pass = false;
    DropReason reason = DropReason::nvgre_no_policy;
};

template <typename Value>
struct FlowCacheEntry {
    FlowKey key;
    uint64_t tag = 0; // generation << 32 | middle hash bits; generation 0 never matches
    Value value;
};

using CustomerFlowEntry = FlowCacheEntry<CustomerFlow>;
using ProviderFlowEntry = FlowCacheEntry<ProviderFlow>;

struct FlowCacheStatistics {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t invalidations = 0;
};

// A set-associative cache (four ways, round-robin replacement) over caller memory.
template <typename Value>
class FlowCache {
public:
    static constexpr size_t kWays = CacheSets<FlowCacheEntry<Value>>::kWays;
    using Entry = FlowCacheEntry<Value>;

    [[nodiscard]] static constexpr bool valid_size(size_t entries) {
        return CacheSets<Entry>::valid_size(entries);
    }

    FlowCache() = default;
    // `entries.size()` must satisfy valid_size() (0 = no cache).
    explicit FlowCache(std::span<Entry> entries) : sets_(entries) {}

    [[nodiscard]] bool enabled() const { return sets_.enabled(); }
    void invalidate_all() { sets_.invalidate_all(); }

    [[nodiscard, gnu::always_inline]] const Value* find(const FlowKey& key, uint64_t hash) const {
        const uint64_t tag = sets_.tag_of(hash);
        const Entry* set = sets_.set_of(hash);
        for (size_t way = 0; way < kWays; ++way)
            if (set[way].tag == tag && set[way].key == key)
                return &set[way].value;
        return nullptr;
    }

    // Remembers `value` for `key` (CacheSets::place picks the way).
    void insert(const FlowKey& key, uint64_t hash, const Value& value) {
        Entry& entry = sets_.place(hash);
        entry.key = key;
        entry.value = value;
    }

private:
    CacheSets<Entry> sets_;
};

} // namespace halcyon::vswitch::nvgre
