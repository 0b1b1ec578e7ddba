// The lookup policy: virtual subnets by VSID and CA-to-PA records by (routing domain, CA). Keying
// records by routing domain rather than VSID is what makes routing between the virtual subnets of
// one VM network a single lookup (subnets of one domain never overlap), while two domains may use
// the same CA without ever seeing each other's records.
//
// Both tables are open-addressing hash tables with linear probing and backward-shift deletion over
// caller-provided slots (fixed capacity, no allocation, lookups never write).
//
// Every change bumps generation(), so a component that caches decisions derived from the policy
// (NetworkVirtualization's flow caches) notices any change with one compare per burst. Assigning
// another table to this one counts as a change too: a cache that refers to this object then sees
// a new generation even though the table was replaced wholesale.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/nvgre/nvgre_types.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::nvgre {

struct RecordSlot {
    LookupRecord record;
    bool used = false;
};

struct SubnetSlot {
    VirtualSubnet subnet;
    bool used = false;
};

class PolicyTable {
public:
    // Slot counts must be powers of two; at most 3/4 of the slots are ever used.
    [[nodiscard]] static constexpr size_t slot_count_for(size_t capacity) {
        size_t slots = 8;
        while (slots * 3 / 4 < capacity)
            slots <<= 1;
        return slots;
    }

    [[nodiscard]] static ErrorOr<PolicyTable> create(std::span<RecordSlot> record_slots,
                                                     std::span<SubnetSlot> subnet_slots);

    PolicyTable() = default; // no slots: every lookup misses, every insertion fails
    PolicyTable(const PolicyTable&) = default;
    PolicyTable(PolicyTable&&) = default;
    PolicyTable& operator=(const PolicyTable& other) {
        replace_with(other);
        return *this;
    }
    PolicyTable& operator=(PolicyTable&& other) {
        replace_with(other);
        return *this;
    }

    // Adds or replaces a virtual subnet. The VSID must be in 4096..2^24-2.
    [[nodiscard]] ErrorOr<void> set_subnet(const VirtualSubnet& subnet);
    // Adds or replaces (a VM moved: new PA) a record. Its VSID must be a known subnet and the
    // record's routing domain must be that subnet's.
    [[nodiscard]] ErrorOr<void> set_record(const LookupRecord& record);
    [[nodiscard]] ErrorOr<void> remove_record(const RoutingDomainId& domain,
                                              const NetAddress& customer_address);

    [[nodiscard]] const VirtualSubnet* subnet(Vsid vsid) const;
    [[nodiscard]] const LookupRecord* record(const RoutingDomainId& domain,
                                             const NetAddress& customer_address) const {
        return record(domain, domain_hash(domain), customer_address);
    }
    // The same with the domain's part of the hash (domain_hash()) computed by the caller, who
    // looks up many addresses of one routing domain. Inline: the packet path makes two per frame.
    [[nodiscard]] const LookupRecord* record(const RoutingDomainId& domain, uint64_t domain_hash,
                                             const NetAddress& customer_address) const {
        if (records_.empty())
            return nullptr;
        const size_t mask = records_.size() - 1;
        for (size_t slot = hash_record(domain_hash, customer_address) & mask; records_[slot].used;
             slot = (slot + 1) & mask) {
            const LookupRecord& record = records_[slot].record;
            if (record.customer_address == customer_address && record.routing_domain == domain)
                return &record;
        }
        return nullptr;
    }
    [[nodiscard]] static constexpr uint64_t domain_hash(const RoutingDomainId& domain) {
        return mix(domain.high, domain.low);
    }
    // The subnet of `vsid` whose gateway address is `address`, if any.
    [[nodiscard]] bool is_gateway(Vsid vsid, const NetAddress& address) const;

    // Changes with every successful set_subnet(), set_record(), remove_record() and assignment;
    // never repeats a value for one object.
    [[nodiscard]] uint64_t generation() const { return generation_; }

    [[nodiscard]] size_t record_count() const { return record_count_; }
    [[nodiscard]] size_t record_capacity() const { return records_.size() * 3 / 4; }

private:
    void replace_with(const PolicyTable& other) {
        const uint64_t next =
            (generation_ > other.generation_ ? generation_ : other.generation_) + 1;
        records_ = other.records_;
        subnets_ = other.subnets_;
        record_count_ = other.record_count_;
        subnet_count_ = other.subnet_count_;
        generation_ = next;
    }
    [[nodiscard]] static constexpr uint64_t mix(uint64_t state, uint64_t value) {
        state ^= value + 0x9E3779B97F4A7C15ull;
        state *= 0xFF51AFD7ED558CCDull;
        return state ^ (state >> 31);
    }
    [[nodiscard]] static constexpr uint64_t hash_record(uint64_t domain_hash,
                                                        const NetAddress& address) {
        return mix(domain_hash, hash_address(address));
    }
    [[nodiscard]] static uint64_t hash_record(const RoutingDomainId& domain,
                                              const NetAddress& address) {
        return hash_record(domain_hash(domain), address);
    }
    [[nodiscard]] static uint64_t hash_vsid(Vsid vsid);
    [[nodiscard]] size_t find_record_slot(const RoutingDomainId& domain,
                                          const NetAddress& address) const;

    std::span<RecordSlot> records_;
    std::span<SubnetSlot> subnets_;
    size_t record_count_ = 0;
    size_t subnet_count_ = 0;
    uint64_t generation_ = 1;
};

} // namespace halcyon::vswitch::nvgre
