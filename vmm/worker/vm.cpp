#include "vmm/worker/vm.hpp"

#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/core/log.hpp"
#include "vmm/root/dispatch/root_partition.hpp"
#include "vmm/worker/cpu_runner.hpp"
#include "vmm/worker/vm_bootstrap.hpp"
#include "vmm/worker/vm_files.hpp"
#include "vmm/worker/vm_platform.hpp"
#include "vmm/worker/vm_vmbus.hpp"

namespace halcyon::worker {
namespace {

uint64_t g_stop_count = 0;

} // namespace

uint64_t vm_stop_count() {
    return __atomic_load_n(&g_stop_count, __ATOMIC_ACQUIRE);
}

Vm::~Vm() {
    delete vmbus;
    delete platform;
    if (partition != nullptr)
        vmm::root::release_root(*partition); // a root's children go first
    delete partition;
}

void Vm::vcpu_has_work(uint32_t index) {
    const VcpuPlacement& where = placement[index];
    // Not yet adopted by its CPU: nothing to wake; it joins its run queue runnable.
    CpuRunner* runner = __atomic_load_n(&where.runner, __ATOMIC_ACQUIRE);
    if (runner == nullptr)
        return;
    const bool kick = runner->wake(where.entity);
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

ErrorOr<std::span<const uint8_t>> Vm::file_bytes(const char* path) {
    // The kernel and initrd are looked up once, when the VM is built on the management CPU; a
    // reboot (on whichever CPU parks last) reuses the same bytes (the manager keeps them pinned)
    // instead of searching sources that CPU must not touch.
    FileCache* cache = path == config.kernel   ? &kernel_file_
                       : path == config.initrd ? &initrd_file_
                                               : nullptr;
    if (cache != nullptr && cache->found)
        return cache->bytes;
    auto lookup = [&]() -> ErrorOr<std::span<const uint8_t>> {
        if (files_ != nullptr) {
            auto uploaded = files_->find(path);
            if (!uploaded.is_error() || uploaded.error().code() != ErrorCode::not_found)
                return uploaded;
        }
        auto module = vm_file_bytes(handoff, frames, path);
        if (files_ != nullptr && module.is_error() &&
            module.error().code() == ErrorCode::not_found && !config::is_datastore_path(path))
            return Error(ErrorCode::not_found,
                         "no such file: neither uploaded with Copy-VMFile nor "
                         "brought by the loader");
        return module;
    };
    ErrorOr<std::span<const uint8_t>> found = lookup();
    if (!found.is_error() && cache != nullptr)
        *cache = FileCache{found.value(), true};
    return found;
}

void Vm::stop(const char* why, StopCause cause, uint32_t raw_code) {
    if (state == VmState::stopped)
        return; // another vCPU already stopped the VM
    // The management partition: a crash is reported and the partition rebuilt instead.
    if (bootstrap != nullptr && bootstrap->stopping(*this, why, raw_code))
        return;
    if (platform != nullptr)
        platform->flush_console();
    state = VmState::stopped;
    stop_cause = cause;
    stop_reason = why;
    for (bool& running : vcpu_running)
        running = false;
    running_vcpus = 0;
    if (raw_code != 0)
        log::info("vm %s: stopped (%s, exit code %#x)", config.name, why, raw_code);
    else
        log::info("vm %s: stopped (%s)", config.name, why);
    wake_all(); // blocked vCPUs must reach their owners' loops to be removed
    __atomic_fetch_add(&g_stop_count, 1, __ATOMIC_RELEASE);
    if (owner_cpu != kNotInGuest && owner_cpu != x86::this_cpu().index)
        (void)x86::preemption_timer::kick(owner_cpu);
}

void Vm::stop_vcpu(uint32_t index, const char* why, StopCause cause) {
    if (!vcpu_running[index])
        return;
    if (running_vcpus == 1) {
        stop(why, cause);
        return;
    }
    vcpu_running[index] = false;
    --running_vcpus;
    log::info("vm %s: vcpu %u stopped (%s)", config.name, index, why);
}

void Vm::request_reset(bool by_guest) {
    if (state != VmState::running && state != VmState::paused)
        return;
    platform->flush_console();
    ++resets;
    log::info("vm %s: %s: restarting (reset %u)", config.name,
              by_guest               ? "the guest asked for a reset"
              : bootstrap != nullptr ? "rebuilt from its image"
                                     : "Restart-VM",
              resets);
    state = VmState::resetting;
    parked_vcpus = 0;
    wake_all();
}

void Vm::pause() {
    if (state != VmState::running)
        return;
    state = VmState::paused;
    wake_all(); // each owner sees the new state at its next pick and takes the vCPU off its CPU
}

void Vm::resume() {
    if (state != VmState::paused)
        return;
    state = VmState::running;
    wake_all();
}

} // namespace halcyon::worker
