// The VM manager's lifecycle operations on the worker's VMs: Start-VM (build, pin the files,
// place the vCPUs), Stop-VM, Restart-VM, Suspend-VM, Resume-VM, and the periodic checks that
// follow a VM from Starting to Running and free it once it has stopped.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/partition/object_memory.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_files.hpp"
#include "vmm/worker/vm_manager.hpp"
#include "vmm/worker/vm_manager_record.hpp"
#include "vmm/worker/vm_platform.hpp"
#include "vmm/worker/vm_vmbus.hpp"
#include "vmm/worker/vm_worker.hpp"

#include <new>

namespace halcyon::worker {
namespace {

// How long an operation waits for the other CPUs to act on a VM (leave the guest, give its
// vCPUs back) before it answers; they react to a kick within microseconds on hardware and a
// few milliseconds under emulation. Past it the answer shows the state in between (Stopping)
// and the periodic checks finish the job.
constexpr uint64_t kSettleMilliseconds = 500;

// A VM being rebuilt by a reset (its RAM cleared, its devices made anew, on one of its CPUs
// without the VM's lock) must not be touched until that is done.
Error restarting() {
    return Error(ErrorCode::busy, "the VM is restarting: try again in a moment");
}

bool no_vcpu_held(Vm& vm) {
    return vm.vcpus_held() == 0;
}

bool no_vcpu_in_guest(Vm& vm) {
    for (uint32_t i = 0; i < vm.partition->vcpu_count(); ++i) {
        if (__atomic_load_n(&vm.in_guest_on[i], __ATOMIC_ACQUIRE) != kNotInGuest)
            return false;
    }
    return true;
}

} // namespace

ErrorOr<void> VmManager::start(std::string_view name) {
    Record* record = TRY(lookup(name));
    return start_record(*record, /*at_boot=*/false);
}

ErrorOr<void> VmManager::start_record(Record& record, bool at_boot) {
    const LifeState next = TRY(lifecycle_transition(record.state, LifeOp::start));
    const config::VmConfig& config = record.config;
    if (auto checked = check_disks(record); checked.is_error()) {
        record.status = checked.error().message();
        return checked;
    }
    void* memory = vmm::allocate_object(sizeof(Vm), alignof(Vm));
    if (memory == nullptr)
        return Error(ErrorCode::out_of_memory, "no memory for the VM");
    // Each start gets a new address space id; the backend folds it onto its hardware ASIDs or
    // VPIDs and flushes on a new vCPU's first run, so ids shared with freed partitions are safe.
    Vm* vm =
        new (memory) Vm(config, next_address_space_++, handoff_, frames_, record.console, uploads_);
    if (auto built = vm->build(); built.is_error()) {
        delete vm; // frees whatever the partial build took (memory, devices)
        record.status = built.error().message();
        event("VM %s did not start: %s", config.name, record.status);
        return built.release_error();
    }
    log::info("vm %s: started (%u vCPU%s, %llu MiB, kernel %s)", config.name, config.vcpus,
              config.vcpus == 1 ? "" : "s",
              static_cast<unsigned long long>(config.memory_bytes >> 20), config.kernel);
    vm->owner_cpu = runners_[0]->cpu_index();
    record.vm = vm;
    record.state = next;
    record.started_tsc = x86::rdtsc();
    record.status = "";
    record.graceful.reset();
    pin_files(record, true);
    place_vcpus(*vm, at_boot);
    event("started VM %s", config.name);
    return {};
}

// Disk images are opened by VmDisks, which reads the boot modules and the datastore only: an
// uploaded image would silently be "not found" there, so say what is missing instead.
ErrorOr<void> VmManager::check_disks(const Record& record) {
    const config::VmConfig& config = record.config;
    for (uint32_t i = 0; i < config.disk_count; ++i) {
        const char* path = config.disks[i].path;
        if (config::is_datastore_path(path) || !vm_file_bytes(handoff_, frames_, path).is_error())
            continue;
        if (uploads_->holds(path))
            return Error(ErrorCode::not_supported,
                         "disk images uploaded with Copy-VMFile cannot be attached yet (disks come "
                         "from the boot modules or the datastore)");
    }
    return {};
}

void VmManager::pin_files(Record& record, bool pin) {
    const config::VmConfig& config = record.config;
    const char* paths[2 + config::kMaxDisksPerVm] = {config.kernel, config.initrd};
    for (uint32_t i = 0; i < config.disk_count; ++i)
        paths[2 + i] = config.disks[i].path;
    for (uint32_t i = 0; i < 2 + config.disk_count; ++i) {
        if (pin && paths[i][0] != '\0' && uploads_->holds(paths[i])) {
            uploads_->pin(paths[i]);
            record.pinned[i] = true;
        } else if (!pin && record.pinned[i]) {
            uploads_->unpin(paths[i]);
            record.pinned[i] = false;
        }
    }
}

// Each vCPU goes to the CPU with the fewest vCPUs (the first such CPU on a tie, the BSP first):
// at boot that spreads the k-th vCPU of all VMs to CPU k mod n, as the worker always did. Later
// the management CPU counts one vCPU more than it has: it also carries the network and the
// manager (a VM rebooting there, its RAM being zeroed, would stall the API), so VMs started
// over the API prefer the other CPUs.
void VmManager::place_vcpus(Vm& vm, bool at_boot) {
    const uint32_t management_bias = at_boot ? 0 : 1;
    for (uint32_t i = 0; i < vm.partition->vcpu_count(); ++i) {
        CpuRunner* chosen = runners_[0];
        uint32_t chosen_load = chosen->load() + management_bias;
        for (uint32_t r = 1; r < runner_count_; ++r) {
            if (runners_[r]->load() < chosen_load) {
                chosen = runners_[r];
                chosen_load = chosen->load();
            }
        }
        if (auto offered = chosen->offer(vm, i); offered.is_error()) {
            mm::SpinLockGuard guard(vm.lock);
            vm.stop(offered.error().message());
        }
    }
}

ErrorOr<void> VmManager::stop(std::string_view name, StopMode mode) {
    Record* record = TRY(lookup(name));
    if (mode == StopMode::graceful) {
        if (record->state == LifeState::stopping)
            return {}; // already on its way (graceful or not)
        const LifeState next = TRY(lifecycle_transition(record->state, LifeOp::stop_graceful));
        Vm& vm = *record->vm;
        bool through_service = false;
        {
            mm::SpinLockGuard guard(vm.lock);
            if (vm.state == VmState::resetting)
                return restarting();
            if (vm.vmbus != nullptr && vm.vmbus->shutdown_service().available())
                through_service = !vm.vmbus->shutdown_service()
                                       .request(vmm::vmbus::ic::ShutdownKind::shutdown,
                                                /*force=*/false, x86::rdtsc())
                                       .is_error();
            if (!through_service && vm.platform != nullptr)
                vm.platform->press_power_button();
        }
        record->graceful.emplace(through_service);
        record->state = next;
        event("stopping VM %s (%s)", record->config.name,
              through_service ? "shutdown integration service" : "ACPI power button");
        return {};
    }
    const LifeState next = TRY(lifecycle_transition(record->state, LifeOp::stop_now));
    Vm& vm = *record->vm;
    {
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state == VmState::resetting)
            return restarting();
        vm.stop(mode == StopMode::force ? "powered off by Stop-VM -Force"
                                        : "turned off by Stop-VM -TurnOff",
                StopCause::turned_off);
    }
    record->state = next;
    record->graceful.reset();
    settle(*record);
    return {};
}

ErrorOr<void> VmManager::restart(std::string_view name) {
    Record* record = TRY(lookup(name));
    const LifeState next = TRY(lifecycle_transition(record->state, LifeOp::restart));
    Vm& vm = *record->vm;
    {
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state == VmState::stopped)
            return Error(ErrorCode::busy, "the VM is stopping");
        vm.request_reset(/*by_guest=*/false);
    }
    record->state = next;
    record->started_tsc = x86::rdtsc();
    event("restarted VM %s", record->config.name);
    return {};
}

ErrorOr<void> VmManager::suspend(std::string_view name) {
    Record* record = TRY(lookup(name));
    const LifeState next = TRY(lifecycle_transition(record->state, LifeOp::suspend));
    if (record->state == LifeState::paused)
        return {};
    Vm& vm = *record->vm;
    {
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state != VmState::running)
            return Error(ErrorCode::busy, "the VM is restarting or stopping: try again");
        vm.pause();
    }
    // Answer once no vCPU is in the guest any more (each was kicked out by pause()).
    if (!wait_until(vm, no_vcpu_in_guest))
        log::warn("vm %s: a vCPU is still in the guest after Suspend-VM", record->config.name);
    record->state = next;
    event("paused VM %s", record->config.name);
    return {};
}

ErrorOr<void> VmManager::resume(std::string_view name) {
    Record* record = TRY(lookup(name));
    const LifeState next = TRY(lifecycle_transition(record->state, LifeOp::resume));
    Vm& vm = *record->vm;
    {
        mm::SpinLockGuard guard(vm.lock);
        vm.resume();
    }
    record->state = next;
    event("resumed VM %s", record->config.name);
    return {};
}

bool VmManager::wait_until(Vm& vm, bool (*done)(Vm&)) {
    const uint64_t deadline = x86::rdtsc() + tsc_hz_ / 1000 * kSettleMilliseconds;
    while (!done(vm)) {
        if (x86::rdtsc() >= deadline)
            return false;
        x86::pause();
    }
    return true;
}

void VmManager::settle(Record& record) {
    // This CPU gives its vCPUs of the VM back now; the others were kicked by Vm::stop().
    runners_[0]->release_stopped();
    if (wait_until(*record.vm, no_vcpu_held))
        free_stopped(record);
}

void VmManager::tick(uint64_t now) {
    for (uint32_t i = 0; i < count_; ++i) {
        Record& record = records_[order_[i]];
        if (record.vm != nullptr)
            check(record, now);
    }
}

void VmManager::check(Record& record, uint64_t) {
    Vm& vm = *record.vm;
    VmState state;
    {
        mm::SpinLockGuard guard(vm.lock);
        state = vm.state;
    }
    if (state == VmState::resetting)
        return; // being rebuilt: see CpuRunner::rebuild
    if (state == VmState::stopped) {
        // Freed once every CPU has given its vCPUs back; until then it is on its way out.
        if (vm.vcpus_held() == 0)
            free_stopped(record);
        else
            record.state = LifeState::stopping;
        return;
    }
    if (record.state == LifeState::starting && vm.vcpus_adopted() == vm.partition->vcpu_count())
        record.state = LifeState::running;
    if (record.state == LifeState::stopping && record.graceful && vm.vmbus != nullptr) {
        const vmm::vmbus::ic::ShutdownResult outcome =
            vm.vmbus->shutdown_service().outcome().result;
        if (record.graceful->step(outcome) == GracefulAction::press_power_button) {
            {
                mm::SpinLockGuard guard(vm.lock);
                if (vm.state == VmState::running || vm.state == VmState::paused)
                    vm.platform->press_power_button();
            }
            event("VM %s: the shutdown service's request %s: pressing the ACPI power button",
                  record.config.name, vmm::vmbus::ic::shutdown_result_name(outcome));
        }
    }
}

void VmManager::free_stopped(Record& record) {
    Vm* vm = record.vm;
    const StopCause cause = vm->stop_cause;
    const char* reason = vm->stop_reason;
    log_vm_statistics(*vm);
    pin_files(record, false);
    delete vm; // the partition's memory, the devices, the VMBus go back to the host
    record.vm = nullptr;
    record.graceful.reset();
    record.state = state_after_stop(cause);
    record.status = reason;
    event("VM %s stopped: %s", record.config.name, reason);
    if (live_count() == 0)
        log::info("all VMs stopped");
}

} // namespace halcyon::worker
