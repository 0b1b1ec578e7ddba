// A small set-associative cache of tuple-space results per exact packet key: a flow's packets
// share one ClassifyKey (MACs, addresses, protocol, ports), so after its first packet the meter
// and decision lookups cost one hash and a compare instead of a probe per rule shape. It caches
// only what TupleSpace::classify() returns (a pure function of the key, the direction and the
// rule set), never counters or stateful flows, so it cannot change a verdict. A generation number
// invalidates every entry at once when the rule set changes. Memory comes from the caller
// (PortAcl's span).
//
// The key is packed into seven 64-bit words (CacheKey) with the direction, so hashing and
// comparing it are a few word operations (four for an IPv4 packet). Each entry carries a tag
// (generation and 32 bits of the hash), so a lookup rejects the other ways of its set with one
// compare each. Four ways per set, so a handful of flows that hash alike do not keep evicting each
// other.
#pragma once

#include "vswitch/acl/tuple_space.hpp"
#include "vswitch/core/cache_sets.hpp"

#include <array>
#include <bit>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

// The slot of a packet's direction in the compiled rule set and in CacheKey: 0 inbound, 1 outbound.
[[nodiscard]] constexpr int direction_slot(Direction direction) {
    return direction == Direction::inbound ? 0 : 1;
}

struct NarrowMask;

// The classification-relevant facts of a packet and its direction slot, packed. The packet's own
// orientation (source, destination) is used, not the ACL's (local, remote): for one direction
// the two are the same information, and this way packing needs no per-field selects. Equal
// CacheKeys mean equal (ClassifyKey, direction) pairs.
//
// The layout is the frame's own byte order, so a switch can load the key straight from an IPv4
// frame (ipv4_cache_key_of() in frame_facts.hpp) with a few unaligned loads and no byte swaps:
//   words[0]     bytes 0..7 of the frame (destination MAC, first two bytes of the source MAC)
//   words[1]     bytes 8..11 (the rest of the source MAC) | protocol << 32 | family << 40
//                | has_ports << 48 | direction slot << 56
//   words[2]     source port | destination port << 16 (0 without ports): the two ports as a
//                little-endian load of ParsedHeaders::src_port and dst_port gives them
//   words[3..6]  the addresses in wire order: IPv4 source and destination in words[3] and
//                words[4..6] zero; IPv6 source in words[3..4], destination in words[5..6]
// So a key whose family is not IPv6 has words[4..6] zero, and equal words[1] (which holds the
// family) between two keys means they only differ in words[4..6] if both are IPv6. A PortAcl
// whose rules examine no MAC keys IPv4 packets by the narrow form instead (NarrowMask below):
// words[0..1] only, flagged by kNarrow in words[1].
struct CacheKey {
    std::array<uint64_t, 7> words{};

    [[nodiscard]] static constexpr uint64_t small_fields(uint8_t protocol, AddressFamily family,
                                                         bool has_ports, int direction_slot) {
        return uint64_t{protocol} << 32 | uint64_t{static_cast<uint8_t>(family)} << 40 |
               uint64_t{has_ports} << 48 | uint64_t{static_cast<uint8_t>(direction_slot)} << 56;
    }

    [[nodiscard]] static constexpr CacheKey of(const PacketFacts& packet, int direction_slot) {
        std::array<uint8_t, 12> macs{};
        for (int i = 0; i < 6; ++i) {
            macs[i] = packet.destination_mac.bytes[i];
            macs[6 + i] = packet.source_mac.bytes[i];
        }
        CacheKey packed;
        for (int i = 0; i < 8; ++i)
            packed.words[0] |= uint64_t{macs[i]} << (8 * i);
        for (int i = 0; i < 4; ++i)
            packed.words[1] |= uint64_t{macs[8 + i]} << (8 * i);
        packed.words[1] |=
            small_fields(packet.protocol, packet.family, packet.has_ports, direction_slot);
        packed.words[2] = uint64_t{packet.source_port} | uint64_t{packet.destination_port} << 16;
        if (packet.family == AddressFamily::ipv6) {
            packed.words[3] = wire_word(packet.source_address.high);
            packed.words[4] = wire_word(packet.source_address.low);
            packed.words[5] = wire_word(packet.destination_address.high);
            packed.words[6] = wire_word(packet.destination_address.low);
        } else if (packet.family == AddressFamily::ipv4) {
            packed.words[3] = wire_word(packet.source_address.low << 32) |
                              wire_word(packet.destination_address.low << 32) << 32;
        }
        return packed;
    }
    // Set in words[1] of narrow keys (never in keys of()), so the two kinds never compare equal.
    static constexpr uint64_t kNarrow = uint64_t{1} << 63;

    // The narrow key of an IPv4 packet under `mask` (mask.usable), from its addresses as they lie
    // in the frame (a little-endian load of source and destination), its ports as
    // ParsedHeaders holds them (a little-endian load of src_port and dst_port), its protocol and
    // whether it has ports: words[0] the masked addresses, words[1] the masked ports, protocol
    // and has_ports with mask.fixed; the rest zero.
    [[nodiscard, gnu::always_inline]] static constexpr CacheKey
    narrow(const NarrowMask& mask, uint64_t addresses, uint32_t ports, uint8_t protocol,
           bool has_ports);
    [[nodiscard]] constexpr bool is_narrow() const { return (words[1] & kNarrow) != 0; }

    [[nodiscard]] constexpr bool is_ipv6() const {
        return (words[1] >> 40 & 0xFF) == static_cast<uint8_t>(AddressFamily::ipv6);
    }
    // The words are folded into two first (a hash collision only costs a probe of
    // another way; the full key is always compared). An IPv4 key's zero words fold away.
    [[nodiscard]] constexpr uint64_t hash() const {
        const uint64_t a = words[0] ^ std::rotl(words[3], 32) ^ std::rotl(words[5], 47);
        const uint64_t b = words[1] ^ std::rotl(words[2], 13) ^ words[4] ^ std::rotl(words[6], 29);
        // A product carries low bits upwards only, so its top bits depend on every bit of the
        // factor: the cache takes its set from the top bits and its tag from the middle ones.
        return (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    }
    [[nodiscard, gnu::always_inline]] constexpr bool operator==(const CacheKey& other) const {
        if (((words[0] ^ other.words[0]) | (words[1] ^ other.words[1]) |
             (words[2] ^ other.words[2]) | (words[3] ^ other.words[3])) != 0)
            return false;
        // Same family (words[1]); only IPv6 keys have anything in words[4..6].
        return !is_ipv6() || ((words[4] ^ other.words[4]) | (words[5] ^ other.words[5]) |
                              (words[6] ^ other.words[6])) == 0;
    }

private:
    // A big-endian 64-bit value as the word an unaligned little-endian load of its bytes gives.
    [[nodiscard]] static constexpr uint64_t wire_word(uint64_t big_endian) {
        uint64_t swapped = 0;
        for (int i = 0; i < 8; ++i)
            swapped |= (big_endian >> (8 * i) & 0xFF) << (8 * (7 - i));
        return swapped;
    }
};

// What the rules for one direction examine of an IPv4 packet, as masks over the narrow cache key
// (CacheKey::narrow()). A classification depends only on the fields some rule looks at — a MAC
// only if a rule matches MACs, an address only up to the longest prefix rules give it, the
// protocol only if a rule matches protocols, ports only if a rule has a port range — so packets
// that agree on those share one cache entry, and their key is two words instead of seven.
// `usable` is false when a rule examines a MAC: then every key is CacheKey::of().
struct NarrowMask {
    bool usable = false;
    uint64_t addresses = 0; // over source | destination << 32, each in wire order
    uint64_t ports = 0;     // over source port | destination port << 16
    uint64_t protocol = 0;  // 0xFF << 32 if a rule examines the protocol
    uint64_t has_ports = 0; // 1 << 48 if a rule has a port range
    uint64_t fixed = 0;     // family, direction slot and CacheKey::kNarrow
};

constexpr CacheKey CacheKey::narrow(const NarrowMask& mask, uint64_t addresses, uint32_t ports,
                                    uint8_t protocol, bool has_ports) {
    CacheKey key;
    key.words[0] = addresses & mask.addresses;
    key.words[1] = (ports & mask.ports) | (uint64_t{protocol} << 32 & mask.protocol) |
                   (uint64_t{has_ports} << 48 & mask.has_ports) | mask.fixed;
    return key;
}

// The narrow key of `packet` (IPv4) under `mask`, from its facts: what CacheKey::narrow() gives
// for the same packet's frame.
[[nodiscard]] constexpr CacheKey narrow_key_of(const NarrowMask& mask, const PacketFacts& packet) {
    const auto wire = [](uint64_t host_order) {
        const uint32_t v = static_cast<uint32_t>(host_order);
        return uint64_t{(v >> 24) | (v >> 8 & 0xFF00) | (v << 8 & 0xFF0000) | (v << 24)};
    };
    return CacheKey::narrow(
        mask, wire(packet.source_address.low) | wire(packet.destination_address.low) << 32,
        static_cast<uint32_t>(packet.source_port) | static_cast<uint32_t>(packet.destination_port)
                                                        << 16,
        packet.protocol, packet.has_ports);
}

// What the deciding rule does, kept beside its index so a hit need not read the rule itself (also
// a pure function of the rule set, so the generation covers it).
namespace decision_flag {
inline constexpr uint8_t allow = 1u << 0;    // the decision rule allows
inline constexpr uint8_t stateful = 1u << 1; // ... and opens a flow (needs the packet's facts)
} // namespace decision_flag

struct ClassificationEntry {
    CacheKey key;
    uint64_t tag = 0; // generation << 32 | hash bits; generation 0 never matches
    int32_t meter_rule = TupleSpace::kNoMatch;
    int32_t decision_rule = TupleSpace::kNoMatch;
    uint8_t decision_flags = 0; // decision_flag bits of decision_rule (0 without one)
};

class ClassificationCache {
public:
    static constexpr size_t kWays = CacheSets<ClassificationEntry>::kWays;

    // Entry count must be 0 (no cache) or a power of two >= kWays.
    [[nodiscard]] static constexpr bool valid_size(size_t entries) {
        return CacheSets<ClassificationEntry>::valid_size(entries);
    }

    ClassificationCache() = default;
    explicit ClassificationCache(std::span<ClassificationEntry> entries) : sets_(entries) {}

    [[nodiscard]] bool enabled() const { return sets_.enabled(); }

    // Forgets every entry (the rule set changed).
    void invalidate_all() { sets_.invalidate_all(); }

    // The cached results for `key` (whose hash() is `hash`), or null (a miss, or no cache).
    [[nodiscard, gnu::always_inline]] const ClassificationEntry* find(const CacheKey& key,
                                                                      uint64_t hash) const {
        if (!sets_.enabled())
            return nullptr;
        const uint64_t tag = sets_.tag_of(hash);
        const ClassificationEntry* set = sets_.set_of(hash);
        for (size_t way = 0; way < kWays; ++way)
            if (set[way].tag == tag && set[way].key == key)
                return &set[way];
        return nullptr;
    }

    // find() for a narrow key: its words[2..6] are zero and so are those of any entry whose
    // words[1] equals its own (the kNarrow flag), so two words decide. Only on an enabled cache
    // (the caller checks enabled() once per burst rather than once per packet).
    [[nodiscard, gnu::always_inline]] const ClassificationEntry* find_narrow(const CacheKey& key,
                                                                             uint64_t hash) const {
        const uint64_t tag = sets_.tag_of(hash);
        const ClassificationEntry* set = sets_.set_of(hash);
        for (size_t way = 0; way < kWays; ++way)
            if (set[way].tag == tag && set[way].key.words[0] == key.words[0] &&
                set[way].key.words[1] == key.words[1])
                return &set[way];
        return nullptr;
    }

    // Remembers the results for `key` (CacheSets::place picks the way).
    void insert(const CacheKey& key, uint64_t hash, int32_t meter_rule, int32_t decision_rule,
                uint8_t decision_flags) {
        if (!sets_.enabled())
            return;
        ClassificationEntry& entry = sets_.place(hash);
        entry.key = key;
        entry.meter_rule = meter_rule;
        entry.decision_rule = decision_rule;
        entry.decision_flags = decision_flags;
    }

private:
    CacheSets<ClassificationEntry> sets_;
};

} // namespace halcyon::vswitch::acl
