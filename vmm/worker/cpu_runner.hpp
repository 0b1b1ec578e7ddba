// One physical CPU's share of the VM worker: its scheduler (sched/) over the vCPUs placed on it,
// and the loop that runs them (docs/scheduler.md, "The run loop"). A CPU with nothing runnable
// halts until the next timer event (a vCPU's APIC timer, a device's deadline) or a kick.
#pragma once

#include "sched/cpu_scheduler.hpp"
#include "vmm/worker/vm.hpp"

#include <stdint.h>

namespace halcyon::worker {

class CpuRunner {
public:
    CpuRunner(uint32_t cpu_index, uint64_t tsc_hz);

    // Places vCPU `vcpu` of `vm` on this CPU (before run()).
    [[nodiscard]] ErrorOr<void> add(Vm& vm, uint32_t vcpu);
    // Runs until every vCPU placed here has stopped.
    void run();

    [[nodiscard]] uint32_t cpu_index() const { return cpu_index_; }
    [[nodiscard]] uint32_t vcpu_count() const { return assignment_count_; }
    // Any CPU: an interrupt arrived for `entity` here; returns whether to kick this CPU.
    bool wake(sched::EntityId entity) { return scheduler_.wake(entity); }

private:
    struct Assignment {
        Vm* vm = nullptr;
        uint32_t vcpu = 0;
    };

    // One decision of the scheduler carried out; false when nothing is left to run.
    [[nodiscard]] bool step();
    void run_vcpu(sched::EntityId entity, const Assignment& assignment, uint64_t until);
    void handle_intercept(sched::EntityId entity, const Assignment& assignment,
                          const vmm::Intercept& intercept);
    // Whether the vCPU may run now; otherwise it is parked or removed here.
    [[nodiscard]] bool admit(sched::EntityId entity, const Assignment& assignment);
    void service_devices(uint64_t now);
    [[nodiscard]] uint64_t device_deadline();
    void idle(uint64_t wake_at);

    uint32_t cpu_index_;
    sched::CpuScheduler scheduler_;
    Assignment by_slot_[sched::kMaxEntitiesPerCpu];
    uint32_t assignment_count_ = 0;
    Vm* vms_[config::kMaxVms] = {};
    uint32_t vm_count_ = 0;
    // How early the idle timer is armed (TSC ticks), learnt from how late HLT wakes up.
    uint64_t advance_;
};

} // namespace halcyon::worker
