// One physical CPU's share of the VM worker: its scheduler (sched/) over the vCPUs placed on it,
// and the loop that runs them (docs/scheduler.md, "The run loop"). The loop runs for the life
// of the host: vCPUs of newly started VMs are handed over (offer()) from the management CPU at
// any time and join at the next step; vCPUs of stopped VMs leave the run queue and are given
// back (Vm::vcpus_held()). A CPU with nothing runnable halts until the next timer event (a
// vCPU's APIC timer, a device's deadline, the housekeeping's next poll) or a kick.
#pragma once

#include "mm/spinlock.hpp"
#include "sched/cpu_scheduler.hpp"
#include "vmm/partition/fpu_state.hpp"
#include "vmm/worker/vm.hpp"

#include <stdint.h>

namespace halcyon::worker {

// Work the management CPU's loop does between vCPU turns: the management network and the VM
// manager's checks (the VMs' states, graceful stops, freeing stopped VMs).
class RunLoopHousekeeping {
public:
    // Called before every scheduling decision; returns the TSC by which it wants the next call.
    [[nodiscard]] virtual uint64_t housekeeping(uint64_t now) = 0;

protected:
    ~RunLoopHousekeeping() = default;
};

class CpuRunner {
public:
    static constexpr uint32_t kOfferCapacity = 64;

    CpuRunner(uint32_t cpu_index, uint64_t tsc_hz);

    // Any CPU: hands vCPU `vcpu` of `vm` to this CPU, which puts it in its run queue at its next
    // step (and kicks it out of a halt for that). The VM's held count covers it from now on.
    // busy when the hand-over queue is full.
    [[nodiscard]] ErrorOr<void> offer(Vm& vm, uint32_t vcpu);
    // The owning CPU's loop, forever (the APs'; the management CPU calls step() itself).
    [[noreturn]] void run_forever();
    // Owning CPU: takes offered vCPUs in, then one scheduling decision carried out.
    void step();
    void set_housekeeping(RunLoopHousekeeping* housekeeping) { housekeeping_ = housekeeping; }
    // Owning CPU, between steps: gives back at once the vCPUs of VMs that have stopped (instead
    // of at their next turn), so Stop-VM -TurnOff can free the VM before it answers.
    void release_stopped();

    [[nodiscard]] uint32_t cpu_index() const { return cpu_index_; }
    // vCPUs offered to or running on this CPU and not given back yet (any CPU; for placement).
    [[nodiscard]] uint32_t load() const { return __atomic_load_n(&load_, __ATOMIC_RELAXED); }
    // Any CPU: an interrupt arrived for `entity` here; returns whether to kick this CPU.
    bool wake(sched::EntityId entity) { return scheduler_.wake(entity); }

private:
    struct Assignment {
        Vm* vm = nullptr;
        uint32_t vcpu = 0;
    };
    struct VmOnCpu {
        Vm* vm = nullptr;
        uint32_t vcpus = 0; // its vCPUs in this CPU's run queue
    };

    void adopt_offered();
    void adopt(const Assignment& offered);
    void run_vcpu(sched::EntityId entity, const Assignment& assignment, uint64_t until);
    void handle_intercept(sched::EntityId entity, const Assignment& assignment,
                          const vmm::Intercept& intercept);
    // Whether the vCPU may run now; otherwise it is parked, blocked or given back here.
    [[nodiscard]] bool admit(sched::EntityId entity, const Assignment& assignment);
    void rebuild(Vm& vm);
    // Takes the vCPU out of the run queue and gives it back to its VM (last touch of the VM).
    void give_back(sched::EntityId entity);
    void service_devices(uint64_t now);
    [[nodiscard]] uint64_t device_deadline();
    [[nodiscard]] bool offers_pending() const {
        return __atomic_load_n(&offer_count_, __ATOMIC_ACQUIRE) != 0;
    }
    void idle(uint64_t wake_at);

    uint32_t cpu_index_;
    sched::CpuScheduler scheduler_;
    Assignment by_slot_[sched::kMaxEntitiesPerCpu];
    VmOnCpu vms_[config::kMaxVms] = {};
    uint32_t vm_count_ = 0;
    uint32_t load_ = 0; // atomic
    RunLoopHousekeeping* housekeeping_ = nullptr;
    // How early the idle timer is armed (TSC ticks), learnt from how late HLT wakes up.
    uint64_t advance_;
    // vCPUs handed over by other CPUs, taken in at the next step.
    mm::SpinLock offer_lock_;
    Assignment offers_[kOfferCapacity];
    uint32_t offer_count_ = 0; // atomic for the lock-free check before halting
    // What this CPU's FPU holds when it has given back a VM's vCPUs, so the VM's partition can be
    // freed without any CPU still owning FPU state inside it (fpu_state.hpp's lazy switching).
    vmm::FpuState parked_fpu_;
};

} // namespace halcyon::worker
