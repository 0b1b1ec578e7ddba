// Tuple-space search classifier (Srinivasan et al.): rules are grouped by the shape of what they
// match ("tuple": which MACs, address family, prefix lengths, protocol), and every tuple keeps a
// hash table of its rules keyed by the masked header fields. A lookup costs one hash probe per
// distinct tuple, not one comparison per rule, so 1,000 rules written as a few dozen shapes cost
// a few dozen probes. Port ranges are not prefixes; they are checked on the (short, rank-sorted)
// list of rules that share one masked key.
//
// Precedence is a "rank": the installer sorts rules by (weight descending, deny before allow,
// installation order) and rank 0 is the strongest. Tuples are searched in order of their best
// rank, so the search stops as soon as no remaining tuple can beat the match already found.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/acl/acl_types.hpp"
#include "vswitch/acl/bump_arena.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

// A packet seen from the port: local is the VM's side.
struct ClassifyKey {
    uint64_t local_mac = 0;
    uint64_t remote_mac = 0;
    AddressFamily family = AddressFamily::any;
    IpAddress local_address;
    IpAddress remote_address;
    uint8_t protocol = 0;
    bool has_ports = false;
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    friend constexpr bool operator==(const ClassifyKey&, const ClassifyKey&) = default;
};

struct TupleMask {
    bool local_mac = false;
    bool remote_mac = false;
    AddressFamily family = AddressFamily::any;
    uint8_t local_prefix_length = 0;
    uint8_t remote_prefix_length = 0;
    bool protocol = false;
    friend constexpr bool operator==(const TupleMask&, const TupleMask&) = default;
};

struct MaskedKey {
    uint64_t local_mac = 0;
    uint64_t remote_mac = 0;
    IpAddress local_address;
    IpAddress remote_address;
    uint32_t tuple_index = 0;
    AddressFamily family = AddressFamily::any;
    uint8_t protocol = 0;
    friend constexpr bool operator==(const MaskedKey&, const MaskedKey&) = default;
};

class TupleSpace {
public:
    struct Member {
        uint32_t rule_index; // position in the installed rule list
        uint32_t rank;       // precedence, 0 strongest; members are passed sorted by rank
    };

    static constexpr int32_t kNoMatch = -1;

    // Upper bound of arena bytes build() takes for `member_count` rules.
    [[nodiscard]] static size_t memory_bytes(size_t member_count);

    // Compiles `members` (sorted by rank, each naming a rule in `rules`) into arena memory.
    [[nodiscard]] ErrorOr<void> build(std::span<const Rule> rules, std::span<const Member> members,
                                      BumpArena& arena);

    // Rule index of the strongest member matching `key`, or kNoMatch. Allocation-free.
    [[nodiscard]] int32_t classify(const ClassifyKey& key) const;

    [[nodiscard]] uint32_t tuple_count() const { return tuple_count_; }

private:
    struct Tuple {
        TupleMask mask;
        uint32_t best_rank;
    };
    struct CompiledRule {
        PortRange local_ports;
        PortRange remote_ports;
        bool needs_ports;
        uint32_t rank;
        uint32_t rule_index;
    };
    struct Bucket {
        MaskedKey key;
        uint32_t first_rule;
        uint32_t rule_count; // 0 marks an empty slot
    };

    [[nodiscard]] static TupleMask mask_of(const Rule& rule);
    [[nodiscard]] static MaskedKey masked_key(const TupleMask& mask, uint32_t tuple_index,
                                              const ClassifyKey& key);
    [[nodiscard]] static MaskedKey rule_key(const TupleMask& mask, uint32_t tuple_index,
                                            const Rule& rule);
    [[nodiscard]] static uint64_t hash(const MaskedKey& key);
    [[nodiscard]] const Bucket* find(const MaskedKey& key) const;

    Tuple* tuples_ = nullptr;
    uint32_t tuple_count_ = 0;
    CompiledRule* rules_ = nullptr;
    Bucket* buckets_ = nullptr;
    uint32_t bucket_mask_ = 0; // bucket count - 1 (a power of two)
};

} // namespace halcyon::vswitch::acl
