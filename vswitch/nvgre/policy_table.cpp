#include "vswitch/nvgre/policy_table.hpp"

namespace halcyon::vswitch::nvgre {

namespace {

[[nodiscard]] constexpr bool is_power_of_two(size_t n) {
    return n != 0 && (n & (n - 1)) == 0;
}

} // namespace

ErrorOr<PolicyTable> PolicyTable::create(std::span<RecordSlot> record_slots,
                                         std::span<SubnetSlot> subnet_slots) {
    if (!is_power_of_two(record_slots.size()) || !is_power_of_two(subnet_slots.size()))
        return Error(ErrorCode::invalid_argument, "NVGRE policy slot counts must be powers of two");
    PolicyTable table;
    table.records_ = record_slots;
    table.subnets_ = subnet_slots;
    for (RecordSlot& slot : record_slots)
        slot.used = false;
    for (SubnetSlot& slot : subnet_slots)
        slot.used = false;
    return table;
}

uint64_t PolicyTable::hash_vsid(Vsid vsid) {
    return mix(vsid, 0x5653494Full);
}

size_t PolicyTable::find_record_slot(const RoutingDomainId& domain,
                                     const NetAddress& address) const {
    const size_t mask = records_.size() - 1;
    for (size_t slot = hash_record(domain, address) & mask; records_[slot].used;
         slot = (slot + 1) & mask) {
        const LookupRecord& record = records_[slot].record;
        if (record.routing_domain == domain && record.customer_address == address)
            return slot;
    }
    return records_.size();
}

ErrorOr<void> PolicyTable::set_subnet(const VirtualSubnet& subnet) {
    if (!is_valid_vsid(subnet.vsid))
        return Error(ErrorCode::invalid_argument, "VSID must be in 4096..16777214 (RFC 7637)");
    if (subnets_.empty())
        return Error(ErrorCode::out_of_memory, "virtual subnet table has no slots");
    const size_t mask = subnets_.size() - 1;
    size_t slot = hash_vsid(subnet.vsid) & mask;
    for (; subnets_[slot].used; slot = (slot + 1) & mask) {
        if (subnets_[slot].subnet.vsid != subnet.vsid)
            continue;
        // Records are keyed by routing domain: moving a subnet to another domain would strand
        // them, so that takes removing the subnet's records and re-creating it.
        if (!(subnets_[slot].subnet.routing_domain == subnet.routing_domain))
            return Error(ErrorCode::already_exists,
                         "virtual subnet already belongs to another routing domain");
        subnets_[slot].subnet = subnet;
        ++generation_;
        return {};
    }
    if (subnet_count_ >= subnets_.size() * 3 / 4)
        return Error(ErrorCode::out_of_memory, "virtual subnet table is full");
    subnets_[slot].subnet = subnet;
    subnets_[slot].used = true;
    ++subnet_count_;
    ++generation_;
    return {};
}

const VirtualSubnet* PolicyTable::subnet(Vsid vsid) const {
    if (subnets_.empty())
        return nullptr;
    const size_t mask = subnets_.size() - 1;
    for (size_t slot = hash_vsid(vsid) & mask; subnets_[slot].used; slot = (slot + 1) & mask) {
        if (subnets_[slot].subnet.vsid == vsid)
            return &subnets_[slot].subnet;
    }
    return nullptr;
}

bool PolicyTable::is_gateway(Vsid vsid, const NetAddress& address) const {
    const VirtualSubnet* found = subnet(vsid);
    return found && found->has_gateway && found->gateway_address == address;
}

ErrorOr<void> PolicyTable::set_record(const LookupRecord& record) {
    const VirtualSubnet* owner = subnet(record.vsid);
    if (!owner)
        return Error(ErrorCode::not_found, "lookup record names an unknown virtual subnet");
    if (!(owner->routing_domain == record.routing_domain))
        return Error(ErrorCode::invalid_argument,
                     "lookup record's routing domain differs from its virtual subnet's");
    if (record.customer_mac.is_multicast() || record.customer_mac.is_zero())
        return Error(ErrorCode::invalid_argument, "customer MAC must be a unicast address");
    if (records_.empty())
        return Error(ErrorCode::out_of_memory, "NVGRE lookup policy has no slots");
    size_t slot = find_record_slot(record.routing_domain, record.customer_address);
    if (slot != records_.size()) {
        records_[slot].record = record;
        ++generation_;
        return {};
    }
    if (record_count_ >= record_capacity())
        return Error(ErrorCode::out_of_memory, "NVGRE lookup policy is full");
    const size_t mask = records_.size() - 1;
    slot = hash_record(record.routing_domain, record.customer_address) & mask;
    while (records_[slot].used)
        slot = (slot + 1) & mask;
    records_[slot].record = record;
    records_[slot].used = true;
    ++record_count_;
    ++generation_;
    return {};
}

ErrorOr<void> PolicyTable::remove_record(const RoutingDomainId& domain,
                                         const NetAddress& customer_address) {
    if (records_.empty())
        return Error(ErrorCode::not_found, "no lookup record for that customer address");
    size_t hole = find_record_slot(domain, customer_address);
    if (hole == records_.size())
        return Error(ErrorCode::not_found, "no lookup record for that customer address");
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    const size_t mask = records_.size() - 1;
    records_[hole].used = false;
    --record_count_;
    for (size_t next = (hole + 1) & mask; records_[next].used; next = (next + 1) & mask) {
        const LookupRecord& moved = records_[next].record;
        const size_t home = hash_record(moved.routing_domain, moved.customer_address) & mask;
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            records_[hole] = records_[next];
            records_[next].used = false;
            hole = next;
        }
    }
    ++generation_;
    return {};
}

} // namespace halcyon::vswitch::nvgre
