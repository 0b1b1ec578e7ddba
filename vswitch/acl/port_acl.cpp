#include "vswitch/acl/port_acl.hpp"

#include <algorithm>

namespace halcyon::vswitch::acl {

namespace {

[[nodiscard]] size_t compile_arena_bytes(size_t max_rules) {
    return BumpArena::bytes_for<Rule>(max_rules) + BumpArena::bytes_for<RuleCounters>(max_rules) +
           BumpArena::bytes_for<uint32_t>(max_rules) +
           BumpArena::bytes_for<TupleSpace::Member>(max_rules) +
           4 * TupleSpace::memory_bytes(max_rules);
}

[[nodiscard]] constexpr bool covers(Direction rule, Direction packet) {
    return (static_cast<uint8_t>(rule) & static_cast<uint8_t>(packet)) != 0;
}

[[nodiscard]] constexpr Direction opposite(Direction direction) {
    return direction == Direction::inbound ? Direction::outbound : Direction::inbound;
}

[[nodiscard]] ClassifyKey classify_key_of(const PacketFacts& packet) {
    const bool outbound = packet.direction == Direction::outbound;
    ClassifyKey key;
    key.local_mac = (outbound ? packet.source_mac : packet.destination_mac).to_u64();
    key.remote_mac = (outbound ? packet.destination_mac : packet.source_mac).to_u64();
    key.family = packet.family;
    key.local_address = outbound ? packet.source_address : packet.destination_address;
    key.remote_address = outbound ? packet.destination_address : packet.source_address;
    key.protocol = packet.protocol;
    key.has_ports = packet.has_ports;
    key.local_port = outbound ? packet.source_port : packet.destination_port;
    key.remote_port = outbound ? packet.destination_port : packet.source_port;
    return key;
}

[[nodiscard]] bool is_icmp(const PacketFacts& packet) {
    return (packet.family == AddressFamily::ipv4 && packet.protocol == kProtocolIcmp) ||
           (packet.family == AddressFamily::ipv6 && packet.protocol == kProtocolIcmpV6);
}

// The flow key of `packet` if it were sent by the flow's initiator (TCP/UDP or an echo request).
[[nodiscard]] bool initiator_key(const PacketFacts& packet, FlowKey& key) {
    const bool ported =
        packet.has_ports && (packet.protocol == kProtocolTcp || packet.protocol == kProtocolUdp);
    const bool echo_request = is_icmp(packet) && packet.is_icmp_echo_request;
    if (!ported && !echo_request)
        return false;
    key.initiator_address = packet.source_address;
    key.responder_address = packet.destination_address;
    key.initiator_port = ported ? packet.source_port : packet.icmp_echo_identifier;
    key.responder_port = ported ? packet.destination_port : packet.icmp_echo_identifier;
    key.protocol = packet.protocol;
    key.family = packet.family;
    key.initiator_direction = packet.direction;
    return true;
}

// The flow key of `packet` if it were return traffic from the responder (TCP/UDP or echo reply).
[[nodiscard]] bool responder_key(const PacketFacts& packet, FlowKey& key) {
    const bool ported =
        packet.has_ports && (packet.protocol == kProtocolTcp || packet.protocol == kProtocolUdp);
    const bool echo_reply = is_icmp(packet) && packet.is_icmp_echo_reply;
    if (!ported && !echo_reply)
        return false;
    key.initiator_address = packet.destination_address;
    key.responder_address = packet.source_address;
    key.initiator_port = ported ? packet.destination_port : packet.icmp_echo_identifier;
    key.responder_port = ported ? packet.source_port : packet.icmp_echo_identifier;
    key.protocol = packet.protocol;
    key.family = packet.family;
    key.initiator_direction = opposite(packet.direction);
    return true;
}

} // namespace

size_t PortAcl::memory_bytes(const AclLimits& limits) {
    return 2 * compile_arena_bytes(limits.max_rules) +
           BumpArena::bytes_for<FlowSlot>(FlowTable::slot_count_for(limits.max_flows)) +
           BumpArena::bytes_for<ClassificationEntry>(limits.classification_cache_entries);
}

ErrorOr<PortAcl> PortAcl::create(const AclLimits& limits, std::span<std::byte> memory) {
    if (limits.max_rules == 0 || limits.max_rules > (1u << 24))
        return Error(ErrorCode::invalid_argument, "ACL rule limit must be 1..16M");
    if (!ClassificationCache::valid_size(limits.classification_cache_entries))
        return Error(ErrorCode::invalid_argument,
                     "ACL classification cache size must be 0 or a power of two >= 2");
    if (memory.size() < memory_bytes(limits))
        return Error(ErrorCode::out_of_memory, "ACL memory smaller than PortAcl::memory_bytes()");
    PortAcl acl;
    acl.limits_ = limits;
    BumpArena carve(memory);
    const size_t arena_bytes = compile_arena_bytes(limits.max_rules);
    for (Compiled& compiled : acl.compiled_) {
        auto* bytes = carve.allocate_array<std::byte>(arena_bytes);
        compiled.arena = BumpArena(std::span<std::byte>(bytes, arena_bytes));
    }
    const size_t slot_count = FlowTable::slot_count_for(limits.max_flows);
    FlowSlot* slots = carve.allocate_array<FlowSlot>(slot_count);
    if (!slots)
        return Error(ErrorCode::out_of_memory, "ACL memory smaller than PortAcl::memory_bytes()");
    for (size_t i = 0; i < slot_count; ++i)
        new (&slots[i]) FlowSlot();
    acl.flows_ = FlowTable(std::span<FlowSlot>(slots, slot_count));
    const size_t entry_count = limits.classification_cache_entries;
    if (entry_count != 0) {
        ClassificationEntry* entries = carve.allocate_array<ClassificationEntry>(entry_count);
        if (!entries)
            return Error(ErrorCode::out_of_memory,
                         "ACL memory smaller than PortAcl::memory_bytes()");
        for (size_t i = 0; i < entry_count; ++i)
            new (&entries[i]) ClassificationEntry();
        acl.classifications_ = ClassificationCache({entries, entry_count});
    }
    TRY(acl.compile({}, acl.compiled_[0]));
    acl.counters_ = acl.compiled_[0].counters;
    return acl;
}

ErrorOr<void> PortAcl::validate(const Rule& rule) {
    if (rule.direction != Direction::inbound && rule.direction != Direction::outbound &&
        rule.direction != Direction::both)
        return Error(ErrorCode::invalid_argument, "ACL rule direction must be in, out or both");
    if (rule.action != Action::allow && rule.action != Action::deny && rule.action != Action::meter)
        return Error(ErrorCode::invalid_argument, "ACL rule action must be allow, deny or meter");
    const uint8_t max_prefix = rule.family == AddressFamily::ipv4   ? 32
                               : rule.family == AddressFamily::ipv6 ? 128
                                                                    : 0;
    if (rule.family != AddressFamily::any && rule.family != AddressFamily::ipv4 &&
        rule.family != AddressFamily::ipv6)
        return Error(ErrorCode::invalid_argument, "ACL rule address family must be any, 4 or 6");
    if (rule.local_prefix_length > max_prefix || rule.remote_prefix_length > max_prefix)
        return Error(ErrorCode::invalid_argument,
                     "ACL rule prefix longer than its address family allows (any family: no "
                     "addresses)");
    if (rule.local_ports.first > rule.local_ports.last ||
        rule.remote_ports.first > rule.remote_ports.last)
        return Error(ErrorCode::invalid_argument, "ACL rule port range is empty (first > last)");
    if (rule.stateful && rule.action != Action::allow)
        return Error(ErrorCode::invalid_argument, "only allow rules can be stateful");
    if (rule.stateful && rule.idle_timeout_seconds == 0)
        return Error(ErrorCode::invalid_argument, "stateful ACL rule needs a non-zero timeout");
    return {};
}

ErrorOr<void> PortAcl::compile(std::span<const Rule> rules, Compiled& into) {
    if (rules.size() > limits_.max_rules)
        return Error(ErrorCode::out_of_range, "more ACL rules than the port's limit");
    for (const Rule& rule : rules)
        TRY(validate(rule));

    into.arena.reset();
    const size_t count = rules.size();
    Rule* copy = into.arena.allocate_array<Rule>(count);
    RuleCounters* counters = into.arena.allocate_array<RuleCounters>(count);
    uint32_t* order = into.arena.allocate_array<uint32_t>(count);
    TupleSpace::Member* members = into.arena.allocate_array<TupleSpace::Member>(count);
    if (count != 0 && (!copy || !counters || !order || !members))
        return Error(ErrorCode::out_of_memory, "ACL compile arena exhausted");
    for (size_t i = 0; i < count; ++i) {
        new (&copy[i]) Rule(rules[i]);
        new (&counters[i]) RuleCounters();
        order[i] = static_cast<uint32_t>(i);
    }

    // Precedence: higher weight first; on equal weight deny before allow (and meter, which is
    // ranked only against other meter rules); then installation order, so ranks are total.
    std::sort(order, order + count, [copy](uint32_t a, uint32_t b) {
        if (copy[a].weight != copy[b].weight)
            return copy[a].weight > copy[b].weight;
        const bool a_deny = copy[a].action == Action::deny;
        const bool b_deny = copy[b].action == Action::deny;
        if (a_deny != b_deny)
            return a_deny;
        return a < b;
    });

    const Direction directions[2] = {Direction::inbound, Direction::outbound};
    for (int d = 0; d < 2; ++d) {
        for (int metering = 0; metering < 2; ++metering) {
            size_t selected = 0;
            for (uint32_t rank = 0; rank < count; ++rank) {
                const Rule& rule = copy[order[rank]];
                if ((rule.action == Action::meter) != (metering == 1) ||
                    !covers(rule.direction, directions[d]))
                    continue;
                members[selected++] = TupleSpace::Member{order[rank], rank};
            }
            TupleSpace& space = metering ? into.meter[d] : into.decide[d];
            TRY(space.build({copy, count}, {members, selected}, into.arena));
        }
    }
    into.rules = copy;
    into.counters = counters;
    into.rule_count = count;
    compute_narrow_masks({copy, count}, into);
    return {};
}

void PortAcl::compute_narrow_masks(std::span<const Rule> rules, Compiled& into) {
    const auto prefix_mask = [](uint8_t prefix) -> uint64_t {
        // The first `prefix` bits of an IPv4 address, as the address lies in memory.
        const uint32_t host = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
        return (host >> 24) | (host >> 8 & 0xFF00) | (host << 8 & 0xFF0000) | (host << 24);
    };
    const Direction directions[2] = {Direction::inbound, Direction::outbound};
    for (int d = 0; d < 2; ++d) {
        NarrowMask& mask = into.narrow[d];
        mask = NarrowMask();
        mask.usable = true;
        uint8_t local_prefix = 0, remote_prefix = 0;
        bool local_ports = false, remote_ports = false;
        for (const Rule& rule : rules) {
            if (!covers(rule.direction, directions[d]))
                continue;
            if (rule.match_local_mac || rule.match_remote_mac)
                mask.usable = false;
            // Only IPv4 rules mask IPv4 addresses (other families' rules have no IPv4 prefix).
            if (rule.family == AddressFamily::ipv4) {
                local_prefix = std::max(local_prefix, rule.local_prefix_length);
                remote_prefix = std::max(remote_prefix, rule.remote_prefix_length);
            }
            if (rule.match_protocol)
                mask.protocol = uint64_t{0xFF} << 32;
            local_ports |= !rule.local_ports.is_everything();
            remote_ports |= !rule.remote_ports.is_everything();
        }
        if (local_ports || remote_ports)
            mask.has_ports = uint64_t{1} << 48;
        // Packet orientation: outbound the VM is the source, inbound the destination.
        const bool outbound = directions[d] == Direction::outbound;
        const uint64_t source_prefix = prefix_mask(outbound ? local_prefix : remote_prefix);
        const uint64_t destination_prefix = prefix_mask(outbound ? remote_prefix : local_prefix);
        mask.addresses = source_prefix | destination_prefix << 32;
        const uint64_t source_port = (outbound ? local_ports : remote_ports) ? 0xFFFF : 0;
        const uint64_t destination_port = (outbound ? remote_ports : local_ports) ? 0xFFFF : 0;
        mask.ports = source_port | destination_port << 16;
        mask.fixed = CacheKey::small_fields(0, AddressFamily::ipv4, false, d) | CacheKey::kNarrow;
    }
}

ErrorOr<void> PortAcl::set_rules(std::span<const Rule> rules) {
    Compiled& standby = compiled_[1 - active_];
    TRY(compile(rules, standby));
    // Carry metering across the update for rules that kept their id (a linear search per rule:
    // updates are rare and bounded by max_rules, the packet path never pays for it).
    const Compiled& old = active();
    for (size_t i = 0; i < standby.rule_count; ++i) {
        for (size_t j = 0; j < old.rule_count; ++j) {
            if (old.rules[j].id == standby.rules[i].id) {
                standby.counters[i] = old.counters[j];
                break;
            }
        }
    }
    active_ = 1 - active_;
    counters_ = active().counters;
    flows_.clear();
    classifications_.invalidate_all();
    return {};
}

void PortAcl::count(uint32_t rule_index, const PacketFacts& packet) {
    RuleCounters& counters = active().counters[rule_index];
    ++counters.packets;
    counters.bytes += packet.length_bytes;
}

Verdict PortAcl::evaluate(const PacketFacts& packet, uint64_t now_ns) {
    const Compiled& rules = active();
    const int d = direction_slot(packet.direction);
    Verdict verdict;

    // Both lookups at once on a miss: the cache then answers every later packet of the flow,
    // whether or not a stateful flow admits it.
    int32_t meter, decided;
    const CacheKey cache_key = this->cache_key(packet, d);
    const uint64_t hash = classifications_.enabled() ? cache_key.hash() : 0;
    if (const ClassificationEntry* cached = classifications_.find(cache_key, hash)) {
        meter = cached->meter_rule;
        decided = cached->decision_rule;
    } else {
        const ClassifyKey key = classify_key_of(packet);
        meter = rules.meter[d].classify(key);
        decided = rules.decide[d].classify(key);
        uint8_t flags = 0;
        if (decided >= 0) {
            const Rule& rule = rules.rules[decided];
            if (rule.action == Action::allow)
                flags |= decision_flag::allow;
            if (rule.stateful)
                flags |= decision_flag::stateful;
        }
        classifications_.insert(cache_key, hash, meter, decided, flags);
    }
    if (meter >= 0) {
        count(static_cast<uint32_t>(meter), packet);
        verdict.metered_by_rule = meter;
    }

    if (flows_.size() != 0) {
        FlowKey flow_key;
        const FlowSlot* flow = nullptr;
        if (initiator_key(packet, flow_key))
            flow = flows_.touch(flow_key, now_ns);
        if (!flow && responder_key(packet, flow_key))
            flow = flows_.touch(flow_key, now_ns);
        if (flow) {
            count(flow->rule_index, packet);
            verdict.allowed = true;
            verdict.reason = VerdictReason::stateful_flow;
            verdict.decided_by_rule = static_cast<int32_t>(flow->rule_index);
            ++statistics_.admitted_by_flow;
            ++statistics_.allowed;
            return verdict;
        }
    }

    if (decided < 0) {
        ++statistics_.allowed;
        return verdict;
    }
    const Rule& rule = rules.rules[decided];
    count(static_cast<uint32_t>(decided), packet);
    verdict.reason = VerdictReason::rule;
    verdict.decided_by_rule = decided;
    verdict.allowed = rule.action == Action::allow;
    if (!verdict.allowed) {
        ++statistics_.denied;
        return verdict;
    }
    ++statistics_.allowed;
    FlowKey flow_key;
    if (rule.stateful && initiator_key(packet, flow_key)) {
        const uint64_t timeout_ns = uint64_t{rule.idle_timeout_seconds} * 1'000'000'000ull;
        if (flows_.open(flow_key, static_cast<uint32_t>(decided), timeout_ns, now_ns))
            ++statistics_.flows_opened;
        else
            ++statistics_.flow_table_full;
    }
    return verdict;
}

ErrorOr<RuleCounters> PortAcl::counters_for_id(uint32_t rule_id) const {
    const Compiled& rules = active();
    for (size_t i = 0; i < rules.rule_count; ++i) {
        if (rules.rules[i].id == rule_id)
            return rules.counters[i];
    }
    return Error(ErrorCode::not_found, "no ACL rule with that id");
}

void PortAcl::reset_counters() {
    Compiled& rules = active();
    for (size_t i = 0; i < rules.rule_count; ++i)
        rules.counters[i] = RuleCounters();
}

uint32_t PortAcl::tuples_searched(Direction direction) const {
    const int d = direction_slot(direction);
    return active().decide[d].tuple_count() + active().meter[d].tuple_count();
}

} // namespace halcyon::vswitch::acl
