// The ACL of one switch port: stateless allow/deny rules, meter rules, stateful flows and the
// per-rule counters that resource metering reads.
//
// Decision order for a packet:
//   1. the strongest matching meter rule (if any) counts it — metering never blocks;
//   2. an established stateful flow admits it (counted on the rule that opened the flow);
//   3. otherwise the strongest matching allow/deny rule decides and counts it (higher weight
//      wins, deny wins ties); a stateful allow rule opens a flow for TCP, UDP and ICMP echo;
//   4. no matching rule: allowed, as Hyper-V port ACLs default to allow.
//
// Memory: everything lives in one span the caller provides (memory_bytes() says how much). It is
// split into two compile arenas so set_rules() builds the new rule set beside the old one and
// switches only on success, plus the flow slots and the classification cache (one hash probe per
// packet of a known flow instead of one per rule shape). Nothing is allocated per packet.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/acl/acl_types.hpp"
#include "vswitch/acl/bump_arena.hpp"
#include "vswitch/acl/classification_cache.hpp"
#include "vswitch/acl/flow_table.hpp"
#include "vswitch/acl/tuple_space.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

struct AclLimits {
    uint32_t max_rules = 1024;
    uint32_t max_flows = 4096;
    // Exact-match cache of classification results (see classification_cache.hpp): 0 or a power
    // of two >= 4. Each entry is 80 bytes; size it for the number of concurrent flows of the
    // port.
    uint32_t classification_cache_entries = 4096;
};

struct AclStatistics {
    uint64_t allowed = 0;
    uint64_t denied = 0;
    uint64_t admitted_by_flow = 0;
    uint64_t flows_opened = 0;
    uint64_t flow_table_full = 0; // stateful rule matched but no room to remember the flow
};

class PortAcl {
public:
    [[nodiscard]] static size_t memory_bytes(const AclLimits& limits);
    [[nodiscard]] static ErrorOr<PortAcl> create(const AclLimits& limits,
                                                 std::span<std::byte> memory);

    // Replaces the rule set. Counters of rules whose id survives the update are carried over;
    // established flows are forgotten, so traffic is re-inspected against the new rules.
    // On error the previous rule set stays in force.
    [[nodiscard]] ErrorOr<void> set_rules(std::span<const Rule> rules);

    // Classifies one packet and updates counters and flows. `now_ns` is the caller's clock.
    [[nodiscard]] Verdict evaluate(const PacketFacts& packet, uint64_t now_ns);
    // The classification cache's key for `packet` in direction slot `d` (0 inbound, 1
    // outbound): the narrow key for IPv4 when the rules allow (narrow_mask()), else
    // CacheKey::of().
    [[nodiscard]] CacheKey cache_key(const PacketFacts& packet, int d) const {
        const NarrowMask& mask = active().narrow[d];
        if (mask.usable && packet.family == AddressFamily::ipv4)
            return narrow_key_of(mask, packet);
        return CacheKey::of(packet, d);
    }
    [[nodiscard]] const NarrowMask& narrow_mask(int d) const { return active().narrow[d]; }
    // False when built with classification_cache_entries 0: evaluate_cached*() would always
    // miss, so callers go straight to evaluate().
    [[nodiscard]] bool classification_cache_enabled() const { return classifications_.enabled(); }

    // evaluate() for the common case, from the packet's cache key alone (cache_key() of its
    // facts, and its hash()): when the classification cache holds the key and the verdict
    // involves no stateful flow (no flow is established, the deciding rule is not stateful),
    // counts the packet exactly as evaluate() would, sets `verdict` and returns true. Otherwise
    // returns false having changed nothing: call evaluate(). Inline: for the switch this is the
    // whole ACL check of most packets.
    [[nodiscard, gnu::always_inline]] bool
    evaluate_cached(const CacheKey& key, uint64_t hash, uint32_t length_bytes, Verdict& verdict) {
        return decide_cached(classifications_.find(key, hash), length_bytes, verdict);
    }
    // The same for a key known to be narrow (CacheKey::narrow()). Only with the cache enabled.
    [[nodiscard, gnu::always_inline]] bool evaluate_cached_narrow(const CacheKey& key,
                                                                  uint64_t hash,
                                                                  uint32_t length_bytes,
                                                                  Verdict& verdict) {
        return decide_cached(classifications_.find_narrow(key, hash), length_bytes, verdict);
    }

    [[nodiscard]] size_t rule_count() const { return active().rule_count; }
    [[nodiscard]] const Rule& rule(size_t index) const { return active().rules[index]; }
    [[nodiscard]] RuleCounters counters(size_t index) const { return active().counters[index]; }
    [[nodiscard]] ErrorOr<RuleCounters> counters_for_id(uint32_t rule_id) const;
    void reset_counters();

    [[nodiscard]] const AclStatistics& statistics() const { return statistics_; }
    [[nodiscard]] size_t flow_count() const { return flows_.size(); }
    size_t expire_flows(uint64_t now_ns) { return flows_.expire(now_ns); }

    // Distinct rule shapes searched per direction (for benchmarks and tests of the
    // sub-linear claim): decision tuples + meter tuples.
    [[nodiscard]] uint32_t tuples_searched(Direction direction) const;

private:
    [[nodiscard, gnu::always_inline]] bool decide_cached(const ClassificationEntry* cached,
                                                         uint32_t length_bytes, Verdict& verdict) {
        // evaluate() would consult the flow table (established flows) or open a flow (a
        // stateful rule): both need the packet's facts, so those packets take evaluate().
        if (cached == nullptr || flows_.size() != 0 ||
            (cached->decision_flags & decision_flag::stateful) != 0)
            return false;
        RuleCounters* counters = counters_;
        verdict = Verdict();
        if (cached->meter_rule >= 0) {
            ++counters[cached->meter_rule].packets;
            counters[cached->meter_rule].bytes += length_bytes;
            verdict.metered_by_rule = cached->meter_rule;
        }
        const int32_t decided = cached->decision_rule;
        if (decided < 0) {
            ++statistics_.allowed;
            return true;
        }
        ++counters[decided].packets;
        counters[decided].bytes += length_bytes;
        verdict.reason = VerdictReason::rule;
        verdict.decided_by_rule = decided;
        verdict.allowed = (cached->decision_flags & decision_flag::allow) != 0;
        if (verdict.allowed)
            ++statistics_.allowed;
        else
            ++statistics_.denied;
        return true;
    }

    struct Compiled {
        BumpArena arena;
        Rule* rules = nullptr;
        RuleCounters* counters = nullptr;
        size_t rule_count = 0;
        TupleSpace decide[2]; // [0] inbound, [1] outbound
        TupleSpace meter[2];
        NarrowMask narrow[2]; // what the rules of each direction examine
    };

    PortAcl() = default;
    [[nodiscard]] const Compiled& active() const { return compiled_[active_]; }
    [[nodiscard]] Compiled& active() { return compiled_[active_]; }
    [[nodiscard]] static ErrorOr<void> validate(const Rule& rule);
    [[nodiscard]] ErrorOr<void> compile(std::span<const Rule> rules, Compiled& into);
    void count(uint32_t rule_index, const PacketFacts& packet);
    static void compute_narrow_masks(std::span<const Rule> rules, Compiled& into);

    AclLimits limits_;
    Compiled compiled_[2];
    int active_ = 0;
    FlowTable flows_;
    ClassificationCache classifications_;
    RuleCounters* counters_ = nullptr; // active().counters, for the cached path
    AclStatistics statistics_;
};

} // namespace halcyon::vswitch::acl
