#include "vmm/worker/vm.hpp"

#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/cpu_runner.hpp"
#include "vmm/worker/vm_platform.hpp"
#include "vmm/worker/vm_vmbus.hpp"

namespace halcyon::worker {

Vm::~Vm() {
    delete vmbus;
    delete platform;
    delete partition;
}

void Vm::vcpu_has_work(uint32_t index) {
    const VcpuPlacement& where = placement[index];
    if (where.runner == nullptr)
        return;
    const bool kick = where.runner->wake(where.entity);
    const uint32_t here = x86::this_cpu().index;
    if (where.cpu == here)
        return; // this CPU's loop sees the wake at its next pick
    if (kick || __atomic_load_n(&in_guest_on[index], __ATOMIC_ACQUIRE) == where.cpu)
        (void)x86::preemption_timer::kick(where.cpu);
}

void Vm::end_of_interrupt(uint8_t vector) {
    mm::SpinLockGuard guard(lock);
    if (platform != nullptr)
        platform->end_of_interrupt(vector);
}

void Vm::synic_end_of_message(uint32_t) {
    // A message slot is free again: the VMBus host retries what the SynIC could not take.
    if (vmbus != nullptr)
        vmbus->poll();
}

void Vm::wake_all() {
    for (uint32_t i = 0; i < partition->vcpu_count(); ++i)
        vcpu_has_work(i);
}

void Vm::stop(const char* why, uint32_t raw_code) {
    if (state == VmState::stopped)
        return; // another vCPU already stopped the VM
    if (platform != nullptr)
        platform->flush_console();
    state = VmState::stopped;
    for (bool& running : vcpu_running)
        running = false;
    running_vcpus = 0;
    if (raw_code != 0)
        log::info("vm %s: stopped (%s, exit code %#x)", config.name, why, raw_code);
    else
        log::info("vm %s: stopped (%s)", config.name, why);
    wake_all(); // blocked vCPUs must reach their owners' loops to be removed
}

void Vm::stop_vcpu(uint32_t index, const char* why) {
    if (!vcpu_running[index])
        return;
    if (running_vcpus == 1) {
        stop(why);
        return;
    }
    vcpu_running[index] = false;
    --running_vcpus;
    log::info("vm %s: vcpu %u stopped (%s)", config.name, index, why);
}

void Vm::request_reset() {
    if (state != VmState::running)
        return;
    platform->flush_console();
    ++resets;
    log::info("vm %s: the guest asked for a reset: restarting (reset %u)", config.name, resets);
    state = VmState::resetting;
    parked_vcpus = 0;
    wake_all();
}

} // namespace halcyon::worker
