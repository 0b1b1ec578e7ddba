#include "vswitch/acl/tuple_space.hpp"

#include "vswitch/acl/hash_mix.hpp"

namespace halcyon::vswitch::acl {

namespace {

// Bucket tables stay at most half full so linear probes stay short.
[[nodiscard]] uint32_t bucket_count_for(size_t member_count) {
    uint32_t count = 16;
    while (count < member_count * 2)
        count <<= 1;
    return count;
}

} // namespace

size_t TupleSpace::memory_bytes(size_t member_count) {
    return BumpArena::bytes_for<Tuple>(member_count) +
           BumpArena::bytes_for<CompiledRule>(member_count) +
           BumpArena::bytes_for<Bucket>(bucket_count_for(member_count)) +
           BumpArena::bytes_for<uint32_t>(member_count);
}

TupleMask TupleSpace::mask_of(const Rule& rule) {
    TupleMask mask;
    mask.local_mac = rule.match_local_mac;
    mask.remote_mac = rule.match_remote_mac;
    mask.family = rule.family;
    mask.local_prefix_length = rule.local_prefix_length;
    mask.remote_prefix_length = rule.remote_prefix_length;
    mask.protocol = rule.match_protocol;
    return mask;
}

MaskedKey TupleSpace::masked_key(const TupleMask& mask, uint32_t tuple_index,
                                 const ClassifyKey& key) {
    MaskedKey masked;
    masked.tuple_index = tuple_index;
    masked.family = mask.family;
    masked.local_mac = mask.local_mac ? key.local_mac : 0;
    masked.remote_mac = mask.remote_mac ? key.remote_mac : 0;
    masked.local_address = mask_address(key.local_address, mask.family, mask.local_prefix_length);
    masked.remote_address =
        mask_address(key.remote_address, mask.family, mask.remote_prefix_length);
    masked.protocol = mask.protocol ? key.protocol : 0;
    return masked;
}

MaskedKey TupleSpace::rule_key(const TupleMask& mask, uint32_t tuple_index, const Rule& rule) {
    MaskedKey masked;
    masked.tuple_index = tuple_index;
    masked.family = mask.family;
    masked.local_mac = mask.local_mac ? rule.local_mac.to_u64() : 0;
    masked.remote_mac = mask.remote_mac ? rule.remote_mac.to_u64() : 0;
    masked.local_address = mask_address(rule.local_address, mask.family, mask.local_prefix_length);
    masked.remote_address =
        mask_address(rule.remote_address, mask.family, mask.remote_prefix_length);
    masked.protocol = mask.protocol ? rule.protocol : 0;
    return masked;
}

uint64_t TupleSpace::hash(const MaskedKey& key) {
    uint64_t state = key.tuple_index;
    state = hash_combine(state, key.local_mac);
    state = hash_combine(state, key.remote_mac);
    state = hash_combine(state, key.local_address.high);
    state = hash_combine(state, key.local_address.low);
    state = hash_combine(state, key.remote_address.high);
    state = hash_combine(state, key.remote_address.low);
    state = hash_combine(state, uint64_t{key.protocol} << 8 | static_cast<uint8_t>(key.family));
    return hash_finish(state);
}

const TupleSpace::Bucket* TupleSpace::find(const MaskedKey& key) const {
    uint32_t slot = static_cast<uint32_t>(hash(key)) & bucket_mask_;
    while (buckets_[slot].rule_count != 0) {
        if (buckets_[slot].key == key)
            return &buckets_[slot];
        slot = (slot + 1) & bucket_mask_;
    }
    return nullptr;
}

ErrorOr<void> TupleSpace::build(std::span<const Rule> rules, std::span<const Member> members,
                                BumpArena& arena) {
    const size_t count = members.size();
    const uint32_t bucket_count = bucket_count_for(count);
    tuples_ = arena.allocate_array<Tuple>(count);
    rules_ = arena.allocate_array<CompiledRule>(count);
    buckets_ = arena.allocate_array<Bucket>(bucket_count);
    uint32_t* bucket_of_member = arena.allocate_array<uint32_t>(count);
    if ((count != 0 && (!tuples_ || !rules_ || !bucket_of_member)) || !buckets_)
        return Error(ErrorCode::out_of_memory, "ACL compile arena too small for the rule set");
    tuple_count_ = 0;
    bucket_mask_ = bucket_count - 1;
    for (uint32_t i = 0; i < bucket_count; ++i)
        buckets_[i].rule_count = 0;

    // Pass 1: assign each member to a tuple and a bucket; count bucket sizes. Members come in
    // rank order, so tuples are created in order of their best rank (the search order).
    for (size_t m = 0; m < count; ++m) {
        const Rule& rule = rules[members[m].rule_index];
        TupleMask mask = mask_of(rule);
        uint32_t tuple = 0;
        while (tuple < tuple_count_ && !(tuples_[tuple].mask == mask))
            ++tuple;
        if (tuple == tuple_count_)
            tuples_[tuple_count_++] = Tuple{mask, members[m].rank};
        MaskedKey key = rule_key(mask, tuple, rule);
        uint32_t slot = static_cast<uint32_t>(hash(key)) & bucket_mask_;
        while (buckets_[slot].rule_count != 0 && !(buckets_[slot].key == key))
            slot = (slot + 1) & bucket_mask_;
        if (buckets_[slot].rule_count == 0)
            buckets_[slot].key = key;
        ++buckets_[slot].rule_count;
        bucket_of_member[m] = slot;
    }

    // Give every bucket a contiguous range of rules_, then fill each range from its end while
    // walking members from weakest to strongest, which leaves every range sorted by rank.
    uint32_t next = 0;
    for (uint32_t slot = 0; slot < bucket_count; ++slot) {
        next += buckets_[slot].rule_count;
        buckets_[slot].first_rule = next; // one past the end until the fill below
    }
    for (size_t m = count; m-- > 0;) {
        const Rule& rule = rules[members[m].rule_index];
        Bucket& bucket = buckets_[bucket_of_member[m]];
        CompiledRule& compiled = rules_[--bucket.first_rule];
        compiled.local_ports = rule.local_ports;
        compiled.remote_ports = rule.remote_ports;
        compiled.needs_ports =
            !rule.local_ports.is_everything() || !rule.remote_ports.is_everything();
        compiled.rank = members[m].rank;
        compiled.rule_index = members[m].rule_index;
    }
    return {};
}

int32_t TupleSpace::classify(const ClassifyKey& key) const {
    int32_t best_rule = kNoMatch;
    uint32_t best_rank = UINT32_MAX;
    const bool is_ip = key.family != AddressFamily::any;
    for (uint32_t t = 0; t < tuple_count_; ++t) {
        const Tuple& tuple = tuples_[t];
        if (tuple.best_rank >= best_rank)
            break; // tuples are in best-rank order: nothing further can win
        if (tuple.mask.family != AddressFamily::any && tuple.mask.family != key.family)
            continue;
        if (tuple.mask.protocol && !is_ip)
            continue;
        const Bucket* bucket = find(masked_key(tuple.mask, t, key));
        if (!bucket)
            continue;
        for (uint32_t r = bucket->first_rule; r < bucket->first_rule + bucket->rule_count; ++r) {
            const CompiledRule& rule = rules_[r];
            if (rule.rank >= best_rank)
                break;
            if (rule.needs_ports && (!key.has_ports || !rule.local_ports.contains(key.local_port) ||
                                     !rule.remote_ports.contains(key.remote_port)))
                continue;
            best_rank = rule.rank;
            best_rule = static_cast<int32_t>(rule.rule_index);
            break;
        }
    }
    return best_rule;
}

} // namespace halcyon::vswitch::acl
