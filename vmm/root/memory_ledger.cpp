#include "vmm/root/memory_ledger.hpp"

namespace halcyon::vmm::root {

MemoryLedger::MemoryLedger(uint64_t root_bytes) {
    const uint64_t pages = root_bytes / kLargePageBytes;
    count_ = static_cast<uint32_t>(pages < kMaxRootLargePages ? pages : kMaxRootLargePages);
}

Status MemoryLedger::check_root_page(uint64_t page_number, uint32_t& index) const {
    if (page_number % kPagesPerLargePage != 0)
        return Status::invalid_parameter;
    const uint64_t large = page_number / kPagesPerLargePage;
    if (large >= count_)
        return Status::invalid_parameter; // not the root's RAM (its view has nothing else)
    if (entries_[large].place != Place::root)
        return Status::invalid_parameter;
    index = static_cast<uint32_t>(large);
    return Status::success;
}

Status MemoryLedger::check_child_address(uint64_t partition_id, uint64_t address) const {
    if (address % kLargePageBytes != 0 || address >= kChildAddressLimit ||
        address == kApicLargePage)
        return Status::invalid_parameter;
    return find_mapped(partition_id, address) ? Status::invalid_parameter : Status::success;
}

void MemoryLedger::record_mapped(uint32_t index, uint64_t partition_id, uint64_t child_address,
                                 uint64_t host_physical) {
    entries_[index] = LargePageEntry{Place::mapped, partition_id, child_address, host_physical};
}

void MemoryLedger::record_deposited(uint32_t index, uint64_t partition_id, uint64_t host_physical) {
    entries_[index] = LargePageEntry{Place::deposited, partition_id, 0, host_physical};
}

void MemoryLedger::record_returned(uint32_t index) {
    entries_[index] = LargePageEntry{};
}

std::optional<uint32_t> MemoryLedger::find_mapped(uint64_t partition_id,
                                                  uint64_t child_address) const {
    for (uint32_t i = 0; i < count_; ++i) {
        const LargePageEntry& e = entries_[i];
        if (e.place == Place::mapped && e.partition_id == partition_id &&
            e.child_address == child_address)
            return i;
    }
    return std::nullopt;
}

std::optional<uint32_t> MemoryLedger::find_deposited(uint64_t partition_id) const {
    for (uint32_t i = 0; i < count_; ++i) {
        if (entries_[i].place == Place::deposited && entries_[i].partition_id == partition_id)
            return i;
    }
    return std::nullopt;
}

uint32_t MemoryLedger::count(Place place, uint64_t partition_id) const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < count_; ++i) {
        const LargePageEntry& e = entries_[i];
        if (e.place == place && (place == Place::root || e.partition_id == partition_id))
            ++n;
    }
    return n;
}

} // namespace halcyon::vmm::root
