#include "vmm/worker/cpu_runner.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/vm_platform.hpp"

namespace halcyon::worker {
namespace {

constexpr uint64_t kSliceMicroseconds = 10'000;
constexpr uint64_t kMaxAdvanceMilliseconds = 5;
constexpr uint64_t kInitialAdvanceMicroseconds = 500; // learnt from the first wake-ups on

uint64_t min(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

} // namespace

CpuRunner::CpuRunner(uint32_t cpu_index, uint64_t tsc_hz)
    : cpu_index_(cpu_index), scheduler_(tsc_hz, tsc_hz / 1'000'000 * kSliceMicroseconds),
      advance_(tsc_hz / 1'000'000 * kInitialAdvanceMicroseconds) {
    vmm::init_fpu_state(parked_fpu_);
}

ErrorOr<void> CpuRunner::offer(Vm& vm, uint32_t vcpu) {
    {
        mm::SpinLockGuard guard(offer_lock_);
        const uint32_t count = __atomic_load_n(&offer_count_, __ATOMIC_RELAXED);
        if (count == kOfferCapacity)
            return Error(ErrorCode::busy, "the CPU's hand-over queue is full");
        offers_[count] = Assignment{&vm, vcpu};
        __atomic_fetch_add(&vm.held_vcpus, 1, __ATOMIC_ACQ_REL);
        __atomic_fetch_add(&load_, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&offer_count_, count + 1, __ATOMIC_RELEASE);
    }
    if (x86::this_cpu().index != cpu_index_)
        (void)x86::preemption_timer::kick(cpu_index_);
    return {};
}

[[noreturn]] void CpuRunner::run_forever() {
    for (;;)
        step();
}

void CpuRunner::adopt_offered() {
    if (!offers_pending())
        return;
    Assignment taken[kOfferCapacity];
    uint32_t count;
    {
        mm::SpinLockGuard guard(offer_lock_);
        count = __atomic_load_n(&offer_count_, __ATOMIC_RELAXED);
        for (uint32_t i = 0; i < count; ++i)
            taken[i] = offers_[i];
        __atomic_store_n(&offer_count_, 0, __ATOMIC_RELEASE);
    }
    for (uint32_t i = 0; i < count; ++i)
        adopt(taken[i]);
}

void CpuRunner::adopt(const Assignment& offered) {
    Vm& vm = *offered.vm;
    sched::GroupParams params;
    params.weight = vm.config.cpu_weight;
    params.reserve_percent = vm.config.cpu_reserve_percent;
    params.limit_percent = vm.config.cpu_limit_percent;
    ErrorOr<sched::EntityId> added = scheduler_.add(params);
    if (added.is_error()) {
        {
            mm::SpinLockGuard guard(vm.lock);
            vm.stop(added.error().message());
        }
        __atomic_fetch_sub(&load_, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&vm.held_vcpus, 1, __ATOMIC_ACQ_REL); // the last touch of the VM
        return;
    }
    const sched::EntityId entity = added.value();
    by_slot_[entity.slot()] = offered;
    uint32_t known = 0;
    while (known < vm_count_ && vms_[known].vm != &vm)
        ++known;
    if (known == vm_count_)
        vms_[vm_count_++] = VmOnCpu{&vm, 0};
    ++vms_[known].vcpus;
    VcpuPlacement& where = vm.placement[offered.vcpu];
    where.cpu = cpu_index_;
    where.entity = entity;
    __atomic_store_n(&where.runner, this, __ATOMIC_RELEASE);
    __atomic_fetch_add(&vm.adopted_vcpus, 1, __ATOMIC_ACQ_REL);
    log::info("vm %s: vcpu %u runs on cpu%u", vm.config.name, offered.vcpu, cpu_index_);
}

void CpuRunner::step() {
    adopt_offered();
    uint64_t now = x86::rdtsc();
    service_devices(now);
    uint64_t housekeeping_due = sched::kNoEvent;
    if (housekeeping_ != nullptr) {
        housekeeping_due = housekeeping_->housekeeping(now);
        // The housekeeping may have taken a while (a Start-VM builds the VM) and handed this
        // CPU new vCPUs.
        adopt_offered();
        now = x86::rdtsc();
    }
    const sched::Decision decision = scheduler_.pick(now);
    switch (decision.kind) {
    case sched::Decision::Kind::empty:
        idle(housekeeping_due);
        return;
    case sched::Decision::Kind::idle:
        idle(min(min(decision.wake_at, device_deadline()), housekeeping_due));
        return;
    case sched::Decision::Kind::run:
        break;
    }
    const Assignment assignment = by_slot_[decision.entity.slot()];
    if (admit(decision.entity, assignment))
        run_vcpu(decision.entity, assignment, decision.until);
}

bool CpuRunner::admit(sched::EntityId entity, const Assignment& assignment) {
    Vm& vm = *assignment.vm;
    bool last_to_park = false;
    {
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state == VmState::resetting) {
            // Park until the last vCPU to park has rebuilt the VM (it wakes everyone).
            (void)scheduler_.block(entity, sched::kNoEvent);
            if (++vm.parked_vcpus < vm.partition->vcpu_count())
                return false;
            last_to_park = true;
        } else if (vm.state == VmState::paused) {
            // Suspend-VM: off the CPU until Resume-VM (or a stop) wakes it.
            (void)scheduler_.block(entity, sched::kNoEvent);
            return false;
        } else if (vm.state != VmState::stopped && vm.vcpu_running[assignment.vcpu]) {
            return true;
        } else if (vm.state != VmState::stopped && vm.running_vcpus > 0) {
            // Halted with interrupts disabled: only a reset (or the VM's end) revives it.
            (void)scheduler_.block(entity, sched::kNoEvent);
            return false;
        }
    }
    if (last_to_park) {
        rebuild(vm);
        return false;
    }
    // The VM has stopped: the vCPU leaves this CPU (after the VM's lock is released, since
    // giving it back may let the management CPU free the VM).
    give_back(entity);
    return false;
}

// The last vCPU to park rebuilds the VM. Without the VM's lock: clearing the RAM and loading the
// kernel take long (seconds under emulation), and the management CPU must not wait for that. It
// is safe because every vCPU is parked and the state stays `resetting`, in which nothing else
// touches the partition or the devices (device service skips the VM, the manager refuses what
// would need them).
void CpuRunner::rebuild(Vm& vm) {
    auto rebuilt = vm.rebuild();
    mm::SpinLockGuard guard(vm.lock);
    if (vm.state != VmState::resetting) {
        // Stopped meanwhile (nothing else may change a resetting VM): the stop stands.
    } else if (rebuilt.is_error()) {
        vm.stop(rebuilt.error().message());
    } else {
        vm.state = VmState::running;
        vm.parked_vcpus = 0;
    }
    vm.wake_all();
}

void CpuRunner::give_back(sched::EntityId entity) {
    Vm& vm = *by_slot_[entity.slot()].vm;
    (void)scheduler_.remove(entity);
    by_slot_[entity.slot()] = Assignment{};
    for (uint32_t i = 0; i < vm_count_; ++i) {
        if (vms_[i].vm != &vm || --vms_[i].vcpus != 0)
            continue;
        // This CPU is done with the VM: forget it, and take its vCPUs' FPU state off this CPU
        // (saved into the partition while it still exists), so freeing the partition later
        // races with no lazy FPU switch here.
        vms_[i] = vms_[--vm_count_];
        vms_[vm_count_] = VmOnCpu{};
        vmm::activate_fpu_state(parked_fpu_);
        break;
    }
    __atomic_fetch_sub(&load_, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&vm.held_vcpus, 1, __ATOMIC_ACQ_REL); // the last touch of the VM
}

void CpuRunner::release_stopped() {
    adopt_offered(); // a vCPU handed over but not taken in yet is held too
    for (uint32_t slot = 0; slot < sched::kMaxEntitiesPerCpu; ++slot) {
        Vm* vm = by_slot_[slot].vm;
        if (vm == nullptr)
            continue;
        bool stopped;
        {
            mm::SpinLockGuard guard(vm->lock);
            stopped = vm->state == VmState::stopped;
        }
        if (!stopped)
            continue;
        // The scheduler knows the entity by slot and generation; the generation is the current
        // occupant's, recorded in the vCPU's placement when it was adopted.
        give_back(vm->placement[by_slot_[slot].vcpu].entity);
    }
}

void CpuRunner::run_vcpu(sched::EntityId entity, const Assignment& assignment, uint64_t until) {
    Vm& vm = *assignment.vm;
    const uint32_t vcpu = assignment.vcpu;
    // Take the CPU back at the end of the slice, at the next device event, or when one of the
    // vCPU's own timers fires - its APIC timer, its Hyper-V synthetic timers (a guest spinning
    // on its timer must see the interrupt on time). The partition re-arms by itself as the
    // guest moves those timers during the run (set_exit_deadline).
    const uint64_t worker_deadline = min(until, device_deadline());
    const uint64_t deadline = min(worker_deadline, vm.partition->timer_deadline(vcpu));
    (void)x86::preemption_timer::arm(deadline);
    vm.partition->set_exit_deadline(vcpu, worker_deadline, deadline);
    const uint64_t start = x86::rdtsc();
    __atomic_store_n(&vm.in_guest_on[vcpu], cpu_index_, __ATOMIC_RELEASE);
    auto result = vm.partition->run_vcpu(vcpu);
    __atomic_store_n(&vm.in_guest_on[vcpu], kNotInGuest, __ATOMIC_RELEASE);
    const uint64_t end = x86::rdtsc();
    (void)scheduler_.charge(entity, end - start, end);

    if (result.is_error()) {
        mm::SpinLockGuard guard(vm.lock);
        vm.stop(result.error().message());
        return;
    }
    handle_intercept(entity, assignment, result.value());
}

void CpuRunner::handle_intercept(sched::EntityId entity, const Assignment& assignment,
                                 const vmm::Intercept& intercept) {
    Vm& vm = *assignment.vm;
    const uint32_t vcpu = assignment.vcpu;
    mm::SpinLockGuard guard(vm.lock);
    // A vCPU paused while it was in the guest finishes the instruction that made it exit.
    if ((vm.state != VmState::running && vm.state != VmState::paused) || !vm.vcpu_running[vcpu])
        return; // another vCPU stopped or reset the VM meanwhile: this exit no longer matters
    ++vm.intercepts;
    const uint64_t now = x86::rdtsc();
    switch (intercept.kind) {
    case vmm::InterceptKind::io: {
        const vmm::IoExit& io = intercept.io;
        if (io.string) {
            vm.stop("string port I/O is not emulated");
            return;
        }
        uint32_t value = 0;
        if (io.in)
            value = vm.platform->io_read(io.port, io.size, now);
        else
            vm.platform->io_write(io.port, io.size,
                                  static_cast<uint32_t>(vm.partition->registers(vcpu).rax), now);
        vm.partition->complete_io(vcpu, io, value);
        break;
    }
    case vmm::InterceptKind::mmio:
        if (auto emulated = vm.partition->emulate_mmio(vcpu, vm.platform->mmio());
            emulated.is_error()) {
            vm.stop(emulated.error().message());
            return;
        }
        break;
    case vmm::InterceptKind::yield:
        break;
    case vmm::InterceptKind::halted:
        if (!intercept.interrupts_enabled) {
            // Only an NMI or INIT could wake it: for our guests, the end of their work.
            vm.stop_vcpu(vcpu, "hlt with interrupts disabled", StopCause::guest_halted);
            // (A bootstrapped VM may have turned its end into a reset: it must park, not block.)
            if (vm.state != VmState::resetting)
                (void)scheduler_.block(entity, sched::kNoEvent);
            return;
        }
        (void)scheduler_.block(entity, intercept.wake_deadline);
        break;
    case vmm::InterceptKind::shutdown:
        vm.stop("triple fault");
        return;
    case vmm::InterceptKind::failed:
        vm.stop(intercept.message, StopCause::failure, intercept.raw_code);
        return;
    }
    if (vm.platform->poweroff_requested())
        vm.stop("the guest powered off", StopCause::guest_poweroff);
    else if (vm.platform->reset_requested())
        vm.request_reset();
}

void CpuRunner::service_devices(uint64_t now) {
    for (uint32_t i = 0; i < vm_count_; ++i) {
        Vm& vm = *vms_[i].vm;
        if (vm.platform == nullptr || vm.platform->next_deadline() > now)
            continue;
        mm::SpinLockGuard guard(vm.lock);
        if (vm.state == VmState::running)
            vm.platform->update(now);
    }
}

uint64_t CpuRunner::device_deadline() {
    uint64_t deadline = sched::kNoEvent;
    for (uint32_t i = 0; i < vm_count_; ++i) {
        const Vm& vm = *vms_[i].vm;
        if (vm.platform != nullptr && vm.state == VmState::running)
            deadline = min(deadline, vm.platform->next_deadline());
    }
    return deadline;
}

// Nothing to run: halt until the timer or a kick. Interrupts are off in the core, so `sti; hlt`
// cannot miss a kick that arrives after the last check (STI's shadow covers the HLT).
//
// Timer advance (as KVM's lapic_timer_advance): waking from HLT takes time the deadline does not
// account for (on QEMU TCG, milliseconds of host scheduling). The CPU learns that latency and
// arms its timer that much early, then waits out the rest with the TSC, so a guest's timer
// interrupt arrives on time. The spin is bounded by the learnt latency (at most kMaxAdvance).
void CpuRunner::idle(uint64_t wake_at) {
    const uint64_t max_advance = x86::tsc::frequency_hz() / 1000 * kMaxAdvanceMilliseconds;
    if (wake_at <= x86::rdtsc())
        return; // already due (the housekeeping wants the loop back at once)
    if (wake_at != sched::kNoEvent)
        (void)x86::preemption_timer::arm(wake_at > advance_ ? wake_at - advance_ : 0);
    if (scheduler_.wake_pending() || offers_pending())
        return;
    asm volatile("sti; hlt; cli" ::: "memory");
    if (wake_at == sched::kNoEvent)
        return;
    const uint64_t woke = x86::rdtsc();
    const uint64_t armed_for = wake_at > advance_ ? wake_at - advance_ : 0;
    if (woke >= armed_for) {
        // Woken by the timer (or later): move the advance a quarter of the way towards the
        // latency just seen, so one outlier does not throw it off.
        const uint64_t latency = woke - armed_for;
        const uint64_t target = latency < max_advance ? latency : max_advance;
        if (target > advance_)
            advance_ += (target - advance_) / 4;
        else
            advance_ -= (advance_ - target) / 4;
    }
    while (x86::rdtsc() < wake_at && !scheduler_.wake_pending() && !offers_pending())
        asm volatile("pause");
}

} // namespace halcyon::worker
