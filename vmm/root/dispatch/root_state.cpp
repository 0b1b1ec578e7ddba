#include "vmm/root/dispatch/root_state.hpp"

#include "boot/config/config.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/root/dispatch/root_partition.hpp"

#include <new>

namespace halcyon::vmm::root {
namespace {

// Every root partition: one per VM at most, looked up on each privileged call and each CPUID
// 0x40000003 of any partition. The lock is innermost (nothing is called while holding it).
struct RootEntry {
    const Partition* partition = nullptr;
    RootState* state = nullptr;
};
RootEntry g_roots[config::kMaxVms];
mm::SpinLock g_roots_lock;

RootState* take_entry(const Partition& partition) {
    mm::SpinLockGuard guard(g_roots_lock);
    for (RootEntry& entry : g_roots) {
        if (entry.partition == &partition) {
            RootState* state = entry.state;
            entry = RootEntry{};
            return state;
        }
    }
    return nullptr;
}

// Moves one large page from a child (or the deposit) back into the root's view. Failing that
// (out of memory for the root's nested tables), the frames are freed: the root loses them, the
// core does not.
void give_back_large_page(RootState& state, uint32_t index) {
    const LargePageEntry entry = state.ledger.entry(index);
    const uint64_t address = MemoryLedger::root_address(index);
    if (auto attached = state.root.attach_memory(address, entry.host_physical);
        attached.is_error()) {
        log::error("vm %s: could not take back its memory at 0x%llx (%s): freed instead",
                   state.root.name(), static_cast<unsigned long long>(address),
                   attached.error().message());
        (void)state.frames.free(entry.host_physical, kPagesPerLargePage);
    }
    state.ledger.record_returned(index);
}

} // namespace

void ChildCpuid::bind(const ChildRecord* record) {
    record_ = record;
    for (bool& pending : has_pending_)
        pending = false;
}

bool ChildCpuid::intercepts_cpuid(uint32_t leaf) const {
    return record_ != nullptr && record_->cpuid.covers(leaf);
}

void ChildCpuid::cpuid_intercepted(uint32_t index, const CpuidExit& exit) {
    if (index >= kMaxChildVps)
        return;
    pending_[index] = exit;
    has_pending_[index] = true;
}

bool ChildCpuid::take(uint32_t vp, CpuidExit& exit) {
    if (vp >= kMaxChildVps || !has_pending_[vp])
        return false;
    has_pending_[vp] = false;
    exit = pending_[vp];
    return true;
}

RootState* find_root_state(const Partition& partition) {
    mm::SpinLockGuard guard(g_roots_lock);
    for (const RootEntry& entry : g_roots) {
        if (entry.partition == &partition)
            return entry.state;
    }
    return nullptr;
}

bool is_root(const Partition& partition) {
    return find_root_state(partition) != nullptr;
}

ErrorOr<void> make_root(Partition& partition, mm::FrameAllocator& frames) {
    if (partition.vcpu_count() != 1)
        return Error(ErrorCode::not_supported, "a root partition has exactly one vCPU for now");
    if (is_root(partition))
        return Error(ErrorCode::already_exists, "the partition is a root partition already");
    void* memory = allocate_object(sizeof(RootState), alignof(RootState));
    if (memory == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the root partition's state");
    auto* state = new (memory) RootState(partition, frames);
    {
        mm::SpinLockGuard guard(g_roots_lock);
        for (RootEntry& entry : g_roots) {
            if (entry.partition == nullptr) {
                entry = RootEntry{&partition, state};
                state = nullptr;
                break;
            }
        }
    }
    if (state != nullptr) {
        state->~RootState();
        free_object(state);
        return Error(ErrorCode::out_of_range, "too many root partitions");
    }
    log::info("vm %s: root partition (privileged hypercalls; %u MiB of memory to give)",
              partition.name(), static_cast<unsigned>(partition.memory_size() >> 20));
    return {};
}

ErrorOr<void> set_management_service(Partition& partition, ManagementService* service) {
    RootState* state = find_root_state(partition);
    if (state == nullptr)
        return Error(ErrorCode::invalid_argument, "only a root partition serves management calls");
    mm::SpinLockGuard guard(state->lock);
    state->management = service;
    return {};
}

void delete_child(RootState& state, ChildRecord& record, bool give_back) {
    const uint32_t slot = state.table.index_of(record);
    uint32_t returned = 0;
    for (uint32_t i = 0; i < state.ledger.large_pages(); ++i) {
        const LargePageEntry entry = state.ledger.entry(i);
        if (entry.place == Place::root || entry.partition_id != record.id)
            continue;
        if (entry.place == Place::mapped && record.partition != nullptr) {
            // Out of the child first, so that its destruction does not free the frames.
            if (auto detached = record.partition->detach_memory(entry.child_address);
                detached.is_error()) {
                log::error("vm %s: partition %llu: its memory at 0x%llx stays with it (%s)",
                           state.root.name(), static_cast<unsigned long long>(record.id),
                           static_cast<unsigned long long>(entry.child_address),
                           detached.error().message());
                state.ledger.record_returned(i); // freed with the child below
                continue;
            }
        }
        if (give_back) {
            give_back_large_page(state, i);
            ++returned;
        } else {
            (void)state.frames.free(entry.host_physical, kPagesPerLargePage);
            state.ledger.record_returned(i);
        }
    }
    if (record.partition != nullptr) {
        record.partition->set_cpuid_interceptor(nullptr);
        delete record.partition;
    }
    state.cpuid[slot].bind(nullptr);
    log::info("vm %s: partition %llu deleted (%u MiB back)", state.root.name(),
              static_cast<unsigned long long>(record.id),
              static_cast<unsigned>(returned * (kLargePageBytes >> 20)));
    state.table.remove(record);
}

namespace {

// Every child of a root, deleted under the root's lock (delete_child says what give_back does).
void delete_children(RootState& state, bool give_back) {
    mm::SpinLockGuard guard(state.lock);
    for (uint32_t i = 0; i < kMaxChildren; ++i) {
        ChildRecord& record = state.table.slot(i);
        if (record.state != ChildState::unused)
            delete_child(state, record, give_back);
    }
}

} // namespace

void reset_root(Partition& partition) {
    RootState* state = find_root_state(partition);
    if (state == nullptr)
        return;
    delete_children(*state, true);
}

void release_root(Partition& partition) {
    RootState* state = take_entry(partition);
    if (state == nullptr)
        return;
    delete_children(*state, false);
    state->~RootState();
    free_object(state);
}

} // namespace halcyon::vmm::root
