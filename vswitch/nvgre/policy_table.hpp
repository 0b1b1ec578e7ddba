// The lookup policy: virtual subnets by VSID and CA-to-PA records by (routing domain, CA). Keying
// records by routing domain rather than VSID is what makes routing between the virtual subnets of
// one VM network a single lookup (subnets of one domain never overlap), while two domains may use
// the same CA without ever seeing each other's records.
//
// Both tables are open-addressing hash tables with linear probing and backward-shift deletion over
// caller-provided slots (fixed capacity, no allocation, lookups never write).
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

    // Adds or replaces a virtual subnet. The VSID must be in 4096..2^24-2.
    [[nodiscard]] ErrorOr<void> set_subnet(const VirtualSubnet& subnet);
    // Adds or replaces (a VM moved: new PA) a record. Its VSID must be a known subnet and the
    // record's routing domain must be that subnet's.
    [[nodiscard]] ErrorOr<void> set_record(const LookupRecord& record);
    [[nodiscard]] ErrorOr<void> remove_record(const RoutingDomainId& domain,
                                              const NetAddress& customer_address);

    [[nodiscard]] const VirtualSubnet* subnet(Vsid vsid) const;
    [[nodiscard]] const LookupRecord* record(const RoutingDomainId& domain,
                                             const NetAddress& customer_address) const;
    // The subnet of `vsid` whose gateway address is `address`, if any.
    [[nodiscard]] bool is_gateway(Vsid vsid, const NetAddress& address) const;

    [[nodiscard]] size_t record_count() const { return record_count_; }
    [[nodiscard]] size_t record_capacity() const { return records_.size() * 3 / 4; }

private:
    [[nodiscard]] static uint64_t hash_record(const RoutingDomainId& domain,
                                              const NetAddress& address);
    [[nodiscard]] static uint64_t hash_vsid(Vsid vsid);
    [[nodiscard]] size_t find_record_slot(const RoutingDomainId& domain,
                                          const NetAddress& address) const;

    std::span<RecordSlot> records_;
    std::span<SubnetSlot> subnets_;
    size_t record_count_ = 0;
    size_t subnet_count_ = 0;
};

} // namespace halcyon::vswitch::nvgre
