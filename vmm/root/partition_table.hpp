// The child partitions of one root partition: their ids, life-cycle state (created ->
// initialized -> deleted), virtual processors, installed intercepts and the accounting of the
// memory the root deposited for them. Pure bookkeeping: the Partition objects themselves are
// made and destroyed by the dispatcher (vmm/root/dispatch).
//
// Ids are 2, 3, 4, ... per root (1 is the root's own), never reused while the root lives (a stale
// id from a deleted child is HV_STATUS_INVALID_PARTITION_ID, never somebody else's partition); 0 is
// HV_PARTITION_ID_INVALID and ~0 HV_PARTITION_ID_SELF, neither names a child.
#pragma once

#include "vmm/root/abi.hpp"

#include <stdint.h>

namespace halcyon::vmm {
class Partition;
}

namespace halcyon::vmm::root {

// HvGetPartitionId of the root; its children are numbered from 2.
inline constexpr uint64_t kRootPartitionId = 1;
inline constexpr uint32_t kMaxChildren = 8;
inline constexpr uint32_t kMaxChildVps = 16;
inline constexpr uint32_t kMaxCpuidIntercepts = 16;
// What the core counts against a child's deposit (4 KiB pages): a partition (its object,
// nested tables, SynIC state) and each virtual processor (control block, local APIC, save
// areas). Fixed rates: docs/management-partition.md, "Memory".
inline constexpr uint64_t kPartitionChargePages = 256;
inline constexpr uint64_t kVpChargePages = 32;

enum class ChildState : uint8_t { unused, created, initialized };

// The CPUID leaves whose execution by a child's VP stops it with an intercept message.
class CpuidIntercepts {
public:
    // Idempotent; no_resources once kMaxCpuidIntercepts leaves are installed.
    [[nodiscard]] Status install(uint32_t leaf);
    void install_all() { all_ = true; }
    [[nodiscard]] bool covers(uint32_t leaf) const;

private:
    bool all_ = false;
    uint32_t leaves_[kMaxCpuidIntercepts] = {};
    uint32_t count_ = 0;
};

struct ChildRecord {
    uint64_t id = 0;
    ChildState state = ChildState::unused;
    Partition* partition = nullptr; // made by HvInitializePartition
    uint32_t vp_count = 0;
    bool vp_suspended[kMaxChildVps] = {}; // HV_REGISTER_EXPLICIT_SUSPEND
    uint64_t deposited_pages = 0;         // 4 KiB pages the root deposited (whole large pages)
    uint64_t charged_pages = 0;           // what the core counts against them
    CpuidIntercepts cpuid;
    uint32_t io_port_intercepts = 0; // installed (every port reaches the root anyway)

    // insufficient_memory when the deposit does not cover `pages` more.
    [[nodiscard]] Status charge(uint64_t pages);
    // Whether one deposited large page can go back to the root without leaving the charges
    // uncovered.
    [[nodiscard]] bool can_withdraw_large_page() const {
        return deposited_pages >= charged_pages + kPagesPerLargePage;
    }
};

class PartitionTable {
public:
    // A new record in state `created` with a fresh id; no_resources when kMaxChildren exist.
    [[nodiscard]] Status create(ChildRecord*& out);
    // The live record with this id; nullptr for unknown ids, 0 and HV_PARTITION_ID_SELF.
    [[nodiscard]] ChildRecord* find(uint64_t id);
    void remove(ChildRecord& record) { record = ChildRecord{}; }
    [[nodiscard]] ChildRecord& slot(uint32_t index) { return records_[index]; }
    [[nodiscard]] uint32_t index_of(const ChildRecord& record) const {
        return static_cast<uint32_t>(&record - records_);
    }
    [[nodiscard]] uint32_t live() const;

private:
    ChildRecord records_[kMaxChildren];
    uint64_t next_id_ = kRootPartitionId + 1;
};

} // namespace halcyon::vmm::root
