#include "vmm/root/partition_table.hpp"

namespace halcyon::vmm::root {

Status CpuidIntercepts::install(uint32_t leaf) {
    if (covers(leaf))
        return Status::success;
    if (count_ == kMaxCpuidIntercepts)
        return Status::no_resources;
    leaves_[count_++] = leaf;
    return Status::success;
}

bool CpuidIntercepts::covers(uint32_t leaf) const {
    if (all_)
        return true;
    for (uint32_t i = 0; i < count_; ++i) {
        if (leaves_[i] == leaf)
            return true;
    }
    return false;
}

Status ChildRecord::charge(uint64_t pages) {
    if (deposited_pages < charged_pages || deposited_pages - charged_pages < pages)
        return Status::insufficient_memory;
    charged_pages += pages;
    return Status::success;
}

Status PartitionTable::create(ChildRecord*& out) {
    for (ChildRecord& record : records_) {
        if (record.state != ChildState::unused)
            continue;
        record = ChildRecord{};
        record.id = next_id_++;
        record.state = ChildState::created;
        out = &record;
        return Status::success;
    }
    return Status::no_resources;
}

ChildRecord* PartitionTable::find(uint64_t id) {
    if (id == kPartitionIdInvalid || id == kPartitionIdSelf)
        return nullptr;
    for (ChildRecord& record : records_) {
        if (record.state != ChildState::unused && record.id == id)
            return &record;
    }
    return nullptr;
}

uint32_t PartitionTable::live() const {
    uint32_t n = 0;
    for (const ChildRecord& record : records_)
        n += record.state != ChildState::unused ? 1 : 0;
    return n;
}

} // namespace halcyon::vmm::root
