// What the core keeps for one root partition: its memory ledger, its children (records in the
// partition table, Partition objects, CPUID interceptors) and the lock that serializes its
// privileged calls. Core only (it owns Partition objects).
#pragma once

#include "mm/frame_allocator.hpp"
#include "mm/spinlock.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/root/dispatch/root_partition.hpp"
#include "vmm/root/memory_ledger.hpp"
#include "vmm/root/partition_table.hpp"

#include <stdint.h>

namespace halcyon::vmm::root {

// A child's CPUID intercepts (HvInstallIntercept): which leaves stop its VPs, and the CPUID
// each VP stopped at until HvDispatchVp turns it into a message.
class ChildCpuid final : public CpuidInterceptor {
public:
    void bind(const ChildRecord* record);
    [[nodiscard]] bool intercepts_cpuid(uint32_t leaf) const override;
    void cpuid_intercepted(uint32_t index, const CpuidExit& exit) override;
    // The CPUID vCPU `vp` stopped at, once.
    [[nodiscard]] bool take(uint32_t vp, CpuidExit& exit);

private:
    const ChildRecord* record_ = nullptr;
    CpuidExit pending_[kMaxChildVps];
    bool has_pending_[kMaxChildVps] = {};
};

struct RootState {
    RootState(Partition& root_partition, mm::FrameAllocator& frame_allocator)
        : root(root_partition), frames(frame_allocator), ledger(root_partition.memory_size()) {}

    Partition& root;
    mm::FrameAllocator& frames;
    MemoryLedger ledger;
    PartitionTable table;
    ChildCpuid cpuid[kMaxChildren]; // by table slot
    // Set for the management partition only: who answers its HvCallHalcyonManagement.
    ManagementService* management = nullptr;
    // Serializes the root's calls (HvDispatchVp holds it while a child runs) against its
    // release; a root has one vCPU, so nobody waits in practice.
    mm::SpinLock lock;
};

// The root state of `partition`, nullptr if it is not a root.
[[nodiscard]] RootState* find_root_state(const Partition& partition);

// Deletes child `record`: its Partition destroyed, its memory and deposits back in the root's
// view (`give_back`) or freed with it (the root is going away). With state.lock held.
void delete_child(RootState& state, ChildRecord& record, bool give_back);

} // namespace halcyon::vmm::root
