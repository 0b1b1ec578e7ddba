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
    struct Compiled {
        BumpArena arena;
        Rule* rules = nullptr;
        RuleCounters* counters = nullptr;
        size_t rule_count = 0;
        TupleSpace decide[2]; // [0] inbound, [1] outbound
        TupleSpace meter[2];
    };

    PortAcl() = default;
    [[nodiscard]] const Compiled& active() const { return compiled_[active_]; }
    [[nodiscard]] Compiled& active() { return compiled_[active_]; }
    [[nodiscard]] static ErrorOr<void> validate(const Rule& rule);
    [[nodiscard]] ErrorOr<void> compile(std::span<const Rule> rules, Compiled& into);
    void count(uint32_t rule_index, const PacketFacts& packet);

    AclLimits limits_;
    Compiled compiled_[2];
    int active_ = 0;
    FlowTable flows_;
    ClassificationCache classifications_;
    AclStatistics statistics_;
};

} // namespace halcyon::vswitch::acl
